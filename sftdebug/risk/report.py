"""The risk section of a report and its terminal view, from the run's summary and records."""

from __future__ import annotations

from typing import Any

from sftdebug.report import terminal as console
from sftdebug.report.html import cards, details, paragraph, pct, section, table, warning
from sftdebug.risk.labels import LABELS
from sftdebug.risk.summary import MIN_FACTS_GEKHMAN

HELP = {
    "conflicts": "the base consistently answers something else: training the row overwrites a belief",
    "unknown": "the base never gives the answer and has no consistent alternative: new knowledge",
    "weakly_known": "only sampling finds the answer",
    "maybe_known": "greedy gives it with some exemplar sets / phrasings",
    "highly_known": "greedy gives it every time",
    "not_factual": "a long answer or a task on given material: not a closed-book fact (see surprise)",
}


def _fact_rows(n: int) -> str:
    return f"{n} fact row{'' if n == 1 else 's'}"


def _label_rows(shares: dict[str, Any]) -> list[list[Any]]:
    return [[lab, shares[lab]["n"], pct(shares[lab]["share"], shares[lab]["ci95"]), HELP[lab]] for lab in LABELS]


def _prediction(summary: dict[str, Any]) -> list[str]:
    pred, out = summary["prediction"], []
    lab = pred.get("lab")
    if lab:
        lo, hi = lab["narrow_rate_range"]
        more = (
            " (beyond the measured conflicting shares: extrapolated along the nearest two)"
            if lab["extrapolated"]
            else ""
        )
        cost = lab["unknown_cost_per_share"]
        unknown = (
            f"each unknown row priced by the lab's {', '.join(lab['unknown_points'])} at {pct(cost[0])}–{pct(cost[1])} "
            "of narrow rate per 100% unknown rows (less than a conflicting row)"
            if cost
            else "unknown rows not priced (the lab has no unknown variant)"
        )
        scale = "" if lab["measured_x"] else " (an older lab: its curve is read at the planted shares)"
        out.append(
            paragraph(
                f"At {pct(lab['conflicts_share'])} conflicting and {pct(lab['unknown_share'])} unknown fact rows, the "
                f"lab measured narrow-hallucination rates of {pct(lo)}–{pct(hi)}{more}: {unknown}{scale}. "
                f"Source: {lab['source']}."
            )
        )
    else:
        out.append(paragraph("No lab curve given (--calibration LAB): no lab-based prediction."))
    g = pred.get("gekhman")
    if g:
        out.append(paragraph(f"{g['source']}: {g['heldout_accuracy_pct_in_their_setting']:.1f}% held-out accuracy."))
    elif summary["n_fact_rows"]:
        out.append(
            paragraph(
                f"Only {_fact_rows(summary['n_fact_rows'])} (fewer than {MIN_FACTS_GEKHMAN}): Gekhman et al.'s share-based "
                "fit is not quoted, its shares would be noise"
                + ("; the lab range above is widened by the shares' intervals." if lab else ".")
            )
        )
    return out


def render(config: dict[str, Any], summary: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    args = config.get("args", {})
    lab = summary["prediction"].get("lab")
    out = [
        paragraph(f"base: {args.get('base')} · data: {args.get('data')}"),
        cards(
            {
                "rows": str(summary["n_rows"]),
                "fact rows": str(summary["n_fact_rows"]),
                "conflicting": pct(summary["conflicts_share"]),
                "unknown": pct(summary["unknown_share"]),
                "predicted narrow rate (lab)": (
                    f"{pct(lab['narrow_rate_range'][0])}–{pct(lab['narrow_rate_range'][1])}" if lab else "—"
                ),
            }
        ),
    ]
    out += [warning(w) for w in summary.get("warnings", [])]
    ex = summary.get("exemplars")
    if ex:
        out.append(
            paragraph(
                f"Few-shot exemplars: {ex['pool']} ({ex['agreed']} of {ex['screened']} screened rows answered with "
                "their own answer; rows that contradict the base would teach it in context to accept wrong answers)."
            )
        )
    out.append(
        section(
            "What the base already believes",
            paragraph("Shares of rows (a row takes its riskiest turn); conflict and unknown shares are of fact rows."),
            table(["label", "rows", "share [95% CI]", "meaning"], _label_rows(summary["labels"])),
            details(
                "per turn", table(["label", "turns", "share [95% CI]", "meaning"], _label_rows(summary["turn_labels"]))
            ),
            *(
                [
                    details(
                        "by domain",
                        table(
                            ["domain", *LABELS],
                            [[d, *[s[lab]["n"] for lab in LABELS]] for d, s in summary["by_domain"].items()],
                        ),
                    )
                ]
                if "by_domain" in summary
                else []
            ),
        )
    )
    out.append(section("Predicted effect", *_prediction(summary)))
    risky = [
        [
            r["key"],
            r["label"],
            r["question"],
            r["answer"],
            r.get("base_belief") or " / ".join(r.get("base_answers") or []),
        ]
        for r in summary["riskiest"]
    ]
    if risky:
        out.append(
            section(
                "Riskiest rows",
                table(["row", "label", "question", "row's answer", "base's answer"], risky, mono=(3, 4)),
            )
        )
    long_turns = sorted(
        (t | {"key": r["key"]} for r in records for t in r.get("turns", []) if t.get("surprise") is not None),
        key=lambda t: -t["surprise"],
    )[:10]
    if long_turns:
        s = summary["surprise"]
        out.append(
            section(
                "Long answers: surprise to the base (NLL per token)",
                paragraph(
                    f"mean {s['mean']:.2f} · median {s['p50']:.2f} · p90 {s['p90']:.2f} · max {s['max']:.2f} nats/token"
                ),
                table(
                    ["row", "question", "answer", "surprise"],
                    [[t["key"], t["question"], t["answer"], t["surprise"]] for t in long_turns],
                ),
            )
        )
    return out


def headline(summary: dict[str, Any]) -> str:
    lab = summary["prediction"].get("lab")
    text = (
        f"{_fact_rows(summary['n_fact_rows'])} of {summary['n_rows']}: conflicting {pct(summary['conflicts_share'])}, "
        f"unknown {pct(summary['unknown_share'])}"
    )
    if lab:
        text += f" · lab predicts narrow rate {pct(lab['narrow_rate_range'][0])}–{pct(lab['narrow_rate_range'][1])}"
    return text


def print_summary(summary: dict[str, Any], out_dir: str) -> None:
    console.table(
        f"SFT data risk ({out_dir})",
        ["label", "rows", "share [95% CI]"],
        [
            [lab, summary["labels"][lab]["n"], pct(summary["labels"][lab]["share"], summary["labels"][lab]["ci95"])]
            for lab in LABELS
        ],
    )
    if summary["riskiest"]:
        console.table(
            "riskiest rows (first 5)",
            ["row", "label", "row's answer", "base's answer"],
            [
                [r["key"], r["label"], r["answer"], r.get("base_belief") or " / ".join(r.get("base_answers") or [])]
                for r in summary["riskiest"][:5]
            ],
        )
    console.note(headline(summary))
    for w in summary.get("warnings", []):
        console.warn(w)
