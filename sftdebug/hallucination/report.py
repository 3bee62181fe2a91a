"""The hallucination section of a report, from a run's records and summary (computes nothing new)."""

from __future__ import annotations

from typing import Any

from sftdebug.hallucination.schema import (
    BaseElicitation,
    HallucinationSummary,
    Headline,
    RankAgreement,
    SFTRankAgreement,
)
from sftdebug.hallucination.verdicts import CATEGORIES, VERDICTS
from sftdebug.report import terminal as console
from sftdebug.report.html import cards, details, esc, img, paragraph, pct, section, table, warning
from sftdebug.report.plots import figure

VERDICT_HELP = {
    "kept": "base right, SFT right",
    "narrow_hallucination": "base right, SFT wrong: knowledge lost or overwritten by SFT",
    "gained": "base wrong, SFT right",
    "never_known": "both wrong: broad hallucination, not caused by SFT",
    "agree": "no gold answer; the SFT answer repeats the base's claim",
    "disagree": "no gold answer; the SFT answer does not repeat the base's claim",
}


def _group_table(groups: dict[str, Headline], name: str) -> str:
    split = any("format_loss" in g for g in groups.values())
    rows = [
        [
            k,
            g["n"],
            g["base_known"],
            g["narrow"],
            *([g.get("format_loss", 0), g.get("knowledge_loss", 0)] if split else []),
            pct(g["narrow_hallucination_rate"], g["ci95"]),
            pct(g["base_accuracy"]),
            pct(g["sft_accuracy"]),
        ]
        for k, g in groups.items()
    ]
    cols = [name, "facts", "base knew", "narrow", *(LOSS_COLUMNS if split else [])]
    return table([*cols, "narrow rate [95% CI]", "base accuracy", "SFT accuracy"], rows)


LOSS_COLUMNS = ["of which format loss", "of which knowledge loss"]


def loss_text(summary: HallucinationSummary) -> str | None:
    """The narrow rate split into format loss and knowledge loss (None for runs without the cloze check)."""
    if "format_loss" not in summary:
        return None
    return (
        f"format loss {pct(summary['format_loss_rate'])} ({summary['format_loss']} facts: the SFT model still "
        f"completes the cloze) · knowledge loss {pct(summary['knowledge_loss_rate'])} ({summary['knowledge_loss']})"
    )


def _relation_plot(groups: dict[str, Headline]) -> str:
    """Narrow-hallucination rate per relation with its 95% interval, beside base and SFT accuracy."""
    names = list(groups)

    def draw(ax: Any) -> None:
        xs = range(len(names))
        rates = [groups[n]["narrow_hallucination_rate"] or 0.0 for n in names]
        lo = [r - (groups[n]["ci95"] or [r, r])[0] for r, n in zip(rates, names, strict=True)]
        hi = [(groups[n]["ci95"] or [r, r])[1] - r for r, n in zip(rates, names, strict=True)]
        ax.bar([x - 0.27 for x in xs], rates, 0.27, yerr=[lo, hi], capsize=3, color="C3", label="narrow rate")
        ax.bar(list(xs), [groups[n]["base_accuracy"] or 0.0 for n in names], 0.27, color="C0", label="base accuracy")
        ax.bar(
            [x + 0.27 for x in xs],
            [groups[n]["sft_accuracy"] or 0.0 for n in names],
            0.27,
            color="C2",
            label="SFT accuracy",
        )
        ax.set_xticks(list(xs), names, rotation=30 if len(names) > 5 else 0, ha="right" if len(names) > 5 else "center")
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize=8)

    return figure(draw, width=max(6.0, 0.7 * len(names)))


def _fact_table(records: list[dict[str, Any]]) -> str:
    cloze = any("loss_kind" in r for r in records)
    rows = [
        [
            r["probe_id"],
            r["answer"],
            r["base_prompt"],
            r["base_text"]
            + (
                f"  ‖ exemplar set {r.get('base_second_set', 1) + 1}: {r['base_second_text']}"
                if "base_second_text" in r
                else ""
            ),
            r["sft_prompt"],
            r["sft_text"],
            *([r.get("sft_cloze_text"), r.get("loss_kind")] if cloze else []),
            r.get("answer_rank"),
            r["sft_finish_reason"],
        ]
        for r in records
    ]
    cols = ["id", "answer", "base prompt", "base continuation", "SFT question", "SFT answer"]
    cols += ["SFT continuing the cloze", "loss"] if cloze else []
    return table([*cols, "rank", "finish"], rows, mono=(3, 5, 6) if cloze else (3, 5))


def render(config: dict[str, Any], summary: HallucinationSummary, records: list[dict[str, Any]]) -> list[str]:
    args = config.get("args", {})
    out = [
        paragraph(f"base: {args.get('base')} · SFT: {args.get('sft')} · probes: {args.get('probes') or 'default'}"),
        cards(
            {
                "narrow-hallucination rate": pct(
                    summary["narrow_hallucination_rate"], summary["narrow_hallucination_ci95"]
                ),
                "facts the base knew": f"{summary['base_known']} / {summary['n_probes']}",
                "SFT eos rate": pct(summary["sft_eos_rate"]),
                "base accuracy": pct(summary["base_accuracy"]),
                "SFT accuracy": pct(summary["sft_accuracy"]),
            }
        ),
    ]
    out += [warning(w) for w in summary.get("warnings", [])]
    if summary.get("base_elicitation"):
        out.append(paragraph(f"How the base was asked: {elicitation_text(summary['base_elicitation'])}."))
    if loss_text(summary):
        out.append(paragraph(f"Narrow hallucinations of the facts the base knew: {loss_text(summary)}."))
    if summary.get("sft_stopping", {}).get("n_cut_at_budget"):
        out.append(paragraph(f"SFT answers cut at the --max-new-tokens budget: {stop_text(summary)}."))
    counts = summary["counts"]
    out.append(
        section(
            "Verdicts", table(["verdict", "facts", "meaning"], [[v, n, VERDICT_HELP[v]] for v, n in counts.items()])
        )
    )
    if "category_transitions" in summary:
        m = summary["category_transitions"]
        out.append(
            section(
                "Knowledge categories, base → SFT",
                paragraph("Rows: base category; columns: SFT category (Gekhman et al. 2024)."),
                table(["base \\ SFT", *CATEGORIES], [[b, *[m[b][s] for s in CATEGORIES]] for b in CATEGORIES]),
            )
        )
    groups = [
        img(_relation_plot(summary["by_relation"]), "narrow-hallucination rate by relation"),
        _group_table(summary["by_relation"], "relation"),
        _group_table(summary["by_lang"], "language"),
    ]
    if "by_split" in summary:
        groups.append(_group_table(summary["by_split"], "split"))
    out.append(section("Breakdown", *groups))
    if "base_answer_rank" in summary:
        ranks = summary["base_answer_rank"]
        out.append(
            section(
                "Candidate ranking (base log-probabilities)",
                table(["mean rank of the answer", "answer ranked first"], [[ranks["mean"], pct(ranks["rank1_rate"])]]),
                *_agreement(summary.get("base_rank_agreement"), records),
            )
        )
    if summary.get("sft_rank_agreement"):
        out.append(
            section(
                "SFT answer vs its candidate ranking (log-probabilities through its chat template)",
                *_sft_agreement(summary["sft_rank_agreement"], records),
            )
        )
    by_verdict = {v: [r for r in records if r["verdict"] == v] for v in VERDICTS}
    facts = [details(f"{v} ({len(rs)}): {VERDICT_HELP[v]}", _fact_table(rs)) for v, rs in by_verdict.items() if rs]
    out.append(section("Facts, base continuation vs SFT answer", *facts))
    return [f'<div class="run" id="{esc(config.get("kind", "run"))}">', *out, "</div>"]


def elicitation_text(how: BaseElicitation) -> str:
    """One line: the mode used, why (the screen's counts), and the exemplar count."""
    text = how["mode"] + (
        f" ({how['shots']} solved clozes of the same relation first)" if how["mode"] == "few-shot" else ""
    )
    screen = how.get("screen")
    if screen:
        text += (
            f"; {how['requested']}: of {screen['n']} sampled facts the base answered {screen['zero_shot_right']} "
            f"zero-shot and {screen['few_shot_right']} few-shot"
        )
    return text


def _agreement(agree: RankAgreement | None, records: list[dict[str, Any]]) -> list[str]:
    """Generation verdict vs ranking: the agreement, and the facts where they part (escaped in _fact_table)."""
    if not agree:
        return []
    by_id = {r["probe_id"]: r for r in records}
    out = [paragraph(f"Generation and ranking agree on {pct(agree['agreement'])} of {agree['n']} facts.")]
    for ids, label in (
        (agree["ranked_first_not_generated"], "ranked the answer first but did not generate it"),
        (agree["generated_not_ranked_first"], "generated the answer but ranked another candidate first"),
    ):
        rows = [by_id[i] for i in ids if i in by_id]
        if rows:
            out.append(details(f"the base {label} ({len(rows)})", _fact_table(rows)))
    return out


def _sft_agreement(agree: SFTRankAgreement, records: list[dict[str, Any]]) -> list[str]:
    """The SFT judge (its answer) vs its ranking of the candidates as its reply, and the facts where they part."""
    by_id = {r["probe_id"]: r for r in records}
    out = [
        paragraph(
            f"The SFT model's answer and its ranking of the candidates as its reply (the fact's sentence completed "
            f"by each) agree on {pct(agree['agreement'])} of {agree['n']} facts. The verdicts use the answer; the "
            "ranking is shown beside them."
        )
    ]
    for ids, label in (
        (agree["ranked_first_not_answered"], "ranked the answer first but did not answer it"),
        (agree["answered_not_ranked_first"], "answered right but ranked another candidate first"),
    ):
        rows = [
            [r["probe_id"], r["sft_prompt"], r["sft_text"], r["sft_top_candidate"], r["answer"], r["sft_answer_rank"]]
            for r in (by_id[i] for i in ids if i in by_id)
        ]
        if rows:
            cols = ["id", "question", "SFT answer", "ranked first", "truth", "rank of the truth"]
            out.append(details(f"the SFT model {label} ({len(rows)})", table(cols, rows, mono=(2,))))
    return out


def stop_text(summary: HallucinationSummary) -> str:
    """Answers cut at the budget, and how a sample of them ended with more budget (older runs: the count only)."""
    stops = summary.get("sft_stopping")
    if not stops:
        return "—"
    text = str(stops["n_cut_at_budget"])
    if stops.get("n_rechecked"):
        text += (
            f"; given up to {stops['recheck_budget_factor']}x the budget, {pct(stops['recheck_stop_rate'], stops['recheck_stop_ci95'])}"
            f" of {stops['n_rechecked']} rechecked ended with eos"
        )
    return text


def headline(summary: HallucinationSummary) -> str:
    text = (
        f"narrow-hallucination rate {pct(summary['narrow_hallucination_rate'], summary['narrow_hallucination_ci95'])}"
        + (f" ({loss_text(summary)})" if loss_text(summary) else "")
        + f" · SFT eos rate {pct(summary['sft_eos_rate'])} · {summary['n_probes']} facts"
    )
    return text + (" · " + "; ".join(summary["warnings"]) if summary.get("warnings") else "")


# --- terminal view -------------------------------------------------------------------------------------


def print_summary(summary: HallucinationSummary, out_dir: str) -> None:
    console.table(
        f"narrow hallucination ({out_dir})",
        ["metric", "value"],
        [
            ["facts probed", summary["n_probes"]],
            *(
                [["base asked", elicitation_text(summary["base_elicitation"])]]
                if summary.get("base_elicitation")
                else []
            ),
            ["base knew", summary["base_known"]],
            *(
                [["base generation vs ranking agree", pct(summary["base_rank_agreement"]["agreement"])]]
                if summary.get("base_rank_agreement")
                else []
            ),
            *(
                [["SFT answer vs ranking agree", pct(summary["sft_rank_agreement"]["agreement"])]]
                if summary.get("sft_rank_agreement")
                else []
            ),
            [
                "narrow-hallucination rate [95% CI]",
                pct(summary["narrow_hallucination_rate"], summary["narrow_hallucination_ci95"]),
            ],
            ["base accuracy", pct(summary["base_accuracy"])],
            ["SFT accuracy", pct(summary["sft_accuracy"])],
            ["SFT eos rate", pct(summary["sft_eos_rate"])],
            ["SFT answers cut at --max-new-tokens", stop_text(summary)],
            *([["narrow, split", loss_text(summary)]] if loss_text(summary) else []),
            *[[f"verdict: {v}", n] for v, n in summary["counts"].items()],
        ],
    )
    groups = {**summary["by_relation"], **{f"lang={k}": v for k, v in summary["by_lang"].items()}}
    console.table(
        "by relation and language",
        ["group", "facts", "base knew", "narrow", "narrow rate [95% CI]", "SFT accuracy"],
        [
            [
                k,
                g["n"],
                g["base_known"],
                g["narrow"],
                pct(g["narrow_hallucination_rate"], g["ci95"]),
                pct(g["sft_accuracy"]),
            ]
            for k, g in groups.items()
        ],
    )
    if summary["examples"]:
        console.table(
            "examples of narrow hallucinations",
            ["fact", "answer", "base continuation", "SFT answer"],
            [[e["probe_id"], e["answer"], e["base_text"], e["sft_text"]] for e in summary["examples"]],
        )
    for w in summary.get("warnings", []):
        console.warn(w)
