"""The report section and terminal view of a checkpoint trend (from the trend run's summary and records)."""

from __future__ import annotations

from typing import Any

from sftdebug.hallucination.schema import TrendRow, TrendSummary
from sftdebug.report import terminal as console
from sftdebug.report.html import Markup, cards, details, esc, img, link, paragraph, pct, section, table, warning
from sftdebug.report.plots import figure


def _plot(rows: list[TrendRow]) -> str:
    steps = [r["step"] for r in rows]

    def draw(ax: Any) -> None:
        rate = [r["narrow_hallucination_rate"] or 0.0 for r in rows]
        lo = [(r["narrow_hallucination_ci95"] or [x, x])[0] for r, x in zip(rows, rate, strict=True)]
        hi = [(r["narrow_hallucination_ci95"] or [x, x])[1] for r, x in zip(rows, rate, strict=True)]
        ax.fill_between(steps, lo, hi, color="C3", alpha=0.2, label="95% CI")
        ax.plot(steps, rate, "o-", color="C3", label="narrow-hallucination rate")
        if rows and rows[0].get("knowledge_loss_rate") is not None:
            ax.plot(steps, [r["knowledge_loss_rate"] for r in rows], "v--", color="C1", label="of which knowledge loss")
        ax.plot(steps, [r["sft_accuracy"] or 0.0 for r in rows], "s-", color="C2", label="SFT accuracy")
        ax.plot(steps, [r["sft_eos_rate"] or 0.0 for r in rows], "^:", color="C0", label="SFT eos rate")
        ax.set_xlabel("training step")
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize=8)

    return figure(draw, width=7.0)


def render(config: dict[str, Any], summary: TrendSummary, records: list[dict[str, Any]]) -> list[str]:
    rows = summary["checkpoints"]
    best = summary.get("suggested_checkpoint")
    out = [
        paragraph(f"base: {config.get('args', {}).get('base')} · {summary['n_checkpoints']} checkpoints"),
        cards(
            {
                "checkpoints": str(summary["n_checkpoints"]),
                "facts": str(summary["n_probes"]),
                "narrow rate, last checkpoint": pct(summary["narrow_hallucination_rate"]),
                "suggested checkpoint": f"{best['name']} (step {best['step']})" if best else "none stops",
            }
        ),
    ]
    out += [warning(w) for w in summary.get("warnings", [])]
    if summary.get("stopped"):  # a training callback stopped the run (sftdebug.integrations.transformers)
        out.append(warning(summary["stopped"]["why"]))
    lint = summary.get("batch_lint")
    if lint:
        said = f"The trainer's own batches ({lint['n_rows']} rows) were linted before step 1: {lint['status']}"
        out.append(Markup(f"<p>{esc(said)} · {link(lint['report'], 'batch lint report')}</p>"))
    if best:
        out.append(paragraph(f"Early stopping: {best['name']} — {best['why']}."))
    split = rows and rows[0].get("format_loss_rate") is not None
    cols = ["checkpoint", "step", "step from", "narrow rate [95% CI]"]
    cols += ["format loss", "knowledge loss"] if split else []
    cols += ["SFT accuracy", "SFT eos rate", "failed"]
    table_rows = [
        [
            link(f"checkpoints/{r['name']}/report.html", r["name"]),
            r["step"],
            r["step_from"],
            pct(r["narrow_hallucination_rate"], r["narrow_hallucination_ci95"]),
            *([pct(r["format_loss_rate"]), pct(r["knowledge_loss_rate"])] if split else []),
            pct(r["sft_accuracy"]),
            pct(r["sft_eos_rate"]),
            r["n_failed"],
        ]
        for r in rows
    ]
    relations = sorted({rel for r in rows for rel in r["by_relation"]})
    rel_rows = [[rel, *[pct(r["by_relation"].get(rel)) for r in rows]] for rel in relations]
    out.append(
        section(
            "Over training",
            img(_plot(rows), "narrow-hallucination rate, SFT accuracy and eos rate against step"),
            table(cols, table_rows),
            details(
                "narrow-hallucination rate by relation",
                table(["relation", *[f"step {r['step']}" for r in rows]], rel_rows),
            ),
        )
    )
    lost = [f for f in records if f.get("first_lost_step") is not None]
    fact_rows = [[f["probe_id"], f["answer"], f["first_lost_step"], f["regained_step"], *f["sft_texts"]] for f in lost]
    out.append(
        section(
            "Facts lost during training",
            paragraph(
                f"{summary['n_lost_at_some_step']} facts the base knew were lost at some checkpoint "
                f"({summary['n_regained']} regained later); the SFT answer at every checkpoint:"
            ),
            details(
                f"lost facts ({len(lost)})",
                table(
                    ["id", "answer", "first lost at", "regained at", *[f"step {r['step']}" for r in rows]], fact_rows
                ),
            ),
        )
    )
    return out


def headline(summary: TrendSummary) -> str:
    best = summary.get("suggested_checkpoint")
    rates = " → ".join(pct(r["narrow_hallucination_rate"]) for r in summary["checkpoints"])
    text = f"narrow-hallucination rate over {summary['n_checkpoints']} checkpoints: {rates}"
    return text + (f" · stop at {best['name']}" if best else " · no checkpoint stops")


def print_summary(summary: TrendSummary, out_dir: str) -> None:
    rows = summary["checkpoints"]
    console.table(
        f"narrow hallucination over training ({out_dir})",
        ["checkpoint", "step", "narrow rate [95% CI]", "knowledge loss", "SFT accuracy", "SFT eos rate"],
        [
            [
                r["name"],
                r["step"],
                pct(r["narrow_hallucination_rate"], r["narrow_hallucination_ci95"]),
                pct(r.get("knowledge_loss_rate")),
                pct(r["sft_accuracy"]),
                pct(r["sft_eos_rate"]),
            ]
            for r in rows
        ],
    )
    best = summary.get("suggested_checkpoint")
    if summary.get("stopped"):
        console.warn(summary["stopped"]["why"])
    if best:
        console.note(f"suggested checkpoint: {best['path']} (step {best['step']}): {best['why']}")
    for w in summary.get("warnings", []):
        console.warn(w)
