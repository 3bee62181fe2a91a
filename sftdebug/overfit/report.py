"""The overfit sections of a report: one evaluation (`overfit eval`) or a dose-response sweep (`overfit run`)."""

from __future__ import annotations

from typing import Any

from sftdebug.overfit.canary import FORMS
from sftdebug.report import terminal as console
from sftdebug.report.html import cards, fmt, img, kv_table, link, paragraph, pct, section, table, warning
from sftdebug.report.plots import figure

FORM_HELP = {
    "trained": "the exact question wording seen in SFT",
    "paraphrase": "the same fact asked in other words",
    "reverse": "the object asked for the subject (the reversal curse predicts failure)",
    "control": "facts never trained: what chance looks like",
}


def render(config: dict[str, Any], summary: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    if config.get("kind") == "overfit_sweep":
        return _sweep(config, summary)
    return _eval(config, summary, records)


def _eval(config: dict[str, Any], s: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    args = config.get("args", {})
    out = [
        paragraph(f"model: {args.get('model')} · facts: {args.get('facts')}"),
        cards({f"recall ({f})": pct(s["recall"][f]) for f in FORMS}),
    ]
    rows = [[f, FORM_HELP[f], pct(s["recall"][f]), pct(s["rank1"][f]), fmt(s["exposure"][f])] for f in FORMS]
    out.append(
        section(
            "Recall and exposure by question form",
            table(["form", "meaning", "recall (greedy)", "rank 1", "mean exposure (bits)"], rows),
        )
    )
    emb = s["embeddings"]
    if not emb["moved"]:
        out.append(warning("The new tokens' embedding rows did not move from initialisation: frozen or untied rows?"))
    out.append(section("Embedding rows of the new tokens", kv_table(emb)))
    if "collateral" in s:
        out.append(section("Collateral damage (vs the base model)", kv_table(s["collateral"])))
    rows = [[r["key"], r["form"], r["question"], r["expected"], r["text"], r["correct"], r["rank"]] for r in records]
    out.append(
        section("Answers", table(["item", "form", "question", "expected", "answer", "right", "rank"], rows, mono=(4,)))
    )
    return out


def _sweep(config: dict[str, Any], s: dict[str, Any]) -> list[str]:
    settings = s["settings"]
    cols = [
        "setting",
        "epochs",
        "lr",
        "steps",
        "trained",
        "paraphrase",
        "reverse",
        "control",
        "exposure",
        "narrow rate",
        "ppl ratio",
        "rows moved",
        "verdict",
    ]
    rows = [
        [
            link(f"{r['key']}/report.html", r["key"]),
            r["epochs"],
            r["lr"],
            r["steps"],
            pct(r["recall_trained"]),
            pct(r["recall_paraphrase"]),
            pct(r["recall_reverse"]),
            pct(r["recall_control"]),
            fmt(r["exposure_mean"]),
            pct(r["narrow_hallucination_rate"]),
            fmt(r["ppl_ratio"]),
            r["embeddings_moved"],
            r["verdict"],
        ]
        for r in settings
    ]
    out = [
        paragraph(
            f"base: {config.get('args', {}).get('base')} · follow a setting for its answers, embeddings and collateral"
        ),
        section("Dose-response", table(cols, rows), img(_plot(settings), "recall and collateral vs epochs")),
    ]
    return out


def _plot(settings: list[dict[str, Any]]) -> str:
    def draw(ax: Any) -> None:
        for lr in sorted({r["lr"] for r in settings}):
            series = sorted((r for r in settings if r["lr"] == lr), key=lambda r: r["epochs"])
            epochs = [r["epochs"] for r in series]
            for i, form in enumerate(FORMS):
                ax.plot(
                    epochs,
                    [r[f"recall_{form}"] for r in series],
                    marker="o",
                    color=f"C{i}",
                    label=f"recall {form} (lr {lr:g})",
                )
            if series[0]["narrow_hallucination_rate"] is not None:
                ax.plot(
                    epochs,
                    [r["narrow_hallucination_rate"] for r in series],
                    ls="--",
                    color="C4",
                    marker="x",
                    label=f"narrow-hallucination rate (lr {lr:g})",
                )
        ax.set_xscale("log")
        ticks = sorted({r["epochs"] for r in settings})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("epochs")
        ax.set_ylabel("rate")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7)

    return figure(draw, height=4.0)


def headline(summary: dict[str, Any]) -> str:
    if "settings" in summary:
        return "; ".join(f"e{r['epochs']} lr{r['lr']:g}: {r['verdict']}" for r in summary["settings"])
    r = summary["recall"]
    return f"recall trained {pct(r['trained'])}, paraphrase {pct(r['paraphrase'])}, reverse {pct(r['reverse'])}"


# --- terminal view -------------------------------------------------------------------------------------


def print_eval(summary: dict[str, Any], out_dir: str) -> None:
    forms = ("trained", "paraphrase", "reverse", "control")
    console.table(
        f"special-token facts ({out_dir})",
        ["question form", "recall", "rank-1 rate", "mean exposure"],
        [[f, pct(summary["recall"][f]), pct(summary["rank1"][f]), summary["exposure"][f]] for f in forms],
    )
    emb = summary["embeddings"]
    console.kv("embeddings of the new tokens", {k: v for k, v in emb.items()})
    if not emb["moved"]:
        console.warn("the new tokens' embedding rows did not move from initialisation: frozen or untied rows?")
    if "collateral" in summary:
        c = summary["collateral"]
        console.kv(
            "collateral damage",
            {
                "narrow-hallucination rate": pct(c["narrow_hallucination_rate"]),
                "perplexity ratio (model / base)": f"{c['ppl_ratio']:.3f}",
            },
        )


def print_sweep(summary: dict[str, Any], out_dir: str) -> None:
    console.table(
        f"dose-response ({out_dir})",
        [
            "epochs",
            "lr",
            "trained",
            "paraphrase",
            "reverse",
            "control",
            "exposure",
            "narrow rate",
            "ppl ratio",
            "verdict",
        ],
        [
            [
                s["epochs"],
                s["lr"],
                pct(s["recall_trained"]),
                pct(s["recall_paraphrase"]),
                pct(s["recall_reverse"]),
                pct(s["recall_control"]),
                s["exposure_mean"],
                pct(s["narrow_hallucination_rate"]),
                s["ppl_ratio"],
                s["verdict"],
            ]
            for s in summary["settings"]
        ],
    )
