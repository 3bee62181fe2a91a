"""The risk section of a report and its terminal view, from the run's summary and records."""

from __future__ import annotations

from typing import Any

from sftdebug.report import terminal as console
from sftdebug.report.html import cards, details, paragraph, pct, section, table, warning
from sftdebug.risk.labels import LABELS

HELP = {
    "conflicts": "the base consistently answers something else: training the row overwrites a belief",
    "unknown": "the base never gives the answer and has no consistent alternative: new knowledge",
    "weakly_known": "only sampling finds the answer",
    "maybe_known": "greedy gives it with some exemplar sets / phrasings",
    "highly_known": "greedy gives it every time",
    "not_factual": "a long answer: not a closed-book fact (see surprise)",
}


def _label_rows(shares: dict[str, Any]) -> list[list[Any]]:
    return [[lab, shares[lab]["n"], pct(shares[lab]["share"], shares[lab]["ci95"]), HELP[lab]] for lab in LABELS]


def _prediction(summary: dict[str, Any]) -> list[str]:
    pred, out = summary["prediction"], []
    lab = pred.get("lab")
    if lab:
        lo, hi = lab["narrow_rate_range"]
        more = " (beyond the measured range: the nearest end is quoted)" if lab["extrapolated"] else ""
        out.append(
            paragraph(
                f"At a conflicting share of {pct(lab['risky_share'])}, the lab measured narrow-hallucination rates of "
                f"{pct(lo)}–{pct(hi)}{more}. Source: {lab['source']}."
            )
        )
        for p in lab.get("unknown_points", []):
            out.append(
                paragraph(
                    f"Unknown rows ({pct(summary['unknown_share'])} here) are not in that figure: they cost less per "
                    f"row; the lab's {p['model']} ({pct(p['unknown_share'])} extra rows about people its base never "
                    f"saw) measured {pct(p['narrow_rate'], p['ci95'])}."
                )
            )
    else:
        out.append(paragraph("No lab curve given (--calibration LAB): no lab-based prediction."))
    g = pred.get("gekhman")
    if g:
        out.append(paragraph(f"{g['source']}: {g['heldout_accuracy_pct_in_their_setting']:.1f}% held-out accuracy."))
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
        f"{summary['n_fact_rows']} fact rows of {summary['n_rows']}: conflicting {pct(summary['conflicts_share'])}, "
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
