"""The page and terminal view of a comparison of two hallucination runs (from compare.json alone)."""

from __future__ import annotations

from typing import Any

from sftdebug.compare.schema import Block, Comparison
from sftdebug.report import terminal as console
from sftdebug.report.html import cards, details, document, paragraph, pct, section, table


def _p(value: float) -> str:
    return f"{value:.3g}" if value >= 0.001 else f"{value:.1e}"


def _rows(result: Comparison) -> list[list[Any]]:
    groups: dict[str, Block] = {"all": result, **result["by_relation"]}
    return [
        [
            name,
            g["sft_correct"]["n"],
            pct(g["sft_correct"]["a_rate"]),
            pct(g["sft_correct"]["b_rate"]),
            g["fixed"],
            g["broken"],
            _p(g["sft_correct"]["p_value"]),
            g["newly_narrow"],
            g["no_longer_narrow"],
            _p(g["narrow"]["p_value"]),
        ]
        for name, g in groups.items()
    ]


COLUMNS = [
    "relation",
    "facts",
    "SFT accuracy A",
    "SFT accuracy B",
    "fixed",
    "broken",
    "McNemar p (accuracy)",
    "newly narrow",
    "no longer narrow",
    "McNemar p (narrow)",
]


def render_page(result: Comparison) -> str:
    a, b = result["run_a"], result["run_b"]
    flips = result["flips"]
    body = [
        paragraph(f"A: {a['path']} (SFT {a['sft']}) · B: {b['path']} (SFT {b['sft']}) · {result['n_probes']} facts"),
        cards(
            {
                "fixed (A wrong → B right)": str(result["fixed"]),
                "broken (A right → B wrong)": str(result["broken"]),
                "McNemar p, SFT accuracy": _p(result["sft_correct"]["p_value"]),
                "narrow hallucinations A → B": f"{result['narrow']['a_only'] + result['narrow']['both']} → "
                f"{result['narrow']['b_only'] + result['narrow']['both']}",
            }
        ),
        paragraph(
            "Paired: the same facts in both runs, so only the facts that changed count (McNemar's exact test, "
            "two-sided); a p-value below 0.05 says the change is unlikely to be chance."
        ),
        section("By relation", table(COLUMNS, _rows(result))),
    ]
    for change in ("broken", "fixed"):
        rows = [
            [f["probe_id"], f["answer"], f["sft_prompt"], f["a_text"], f["b_text"], f["a_verdict"], f["b_verdict"]]
            for f in flips
            if f["change"] == change
        ]
        if rows:
            cols = ["id", "answer", "question", "A's answer", "B's answer", "A verdict", "B verdict"]
            body.append(details(f"{change} ({len(rows)})", table(cols, rows, mono=(3, 4)), open=change == "broken"))
    return document("sftdebug compare", "two hallucination runs, fact by fact", body)


SHORT_COLUMNS = ["relation", "facts", "acc A", "acc B", "fixed", "broken", "p", "+narrow", "−narrow", "p narrow"]


def headline(result: Comparison) -> str:
    return (
        f"B fixed {result['fixed']} and broke {result['broken']} of {result['n_probes']} facts "
        f"(McNemar p {_p(result['sft_correct']['p_value'])}); narrow hallucinations +{result['newly_narrow']} "
        f"−{result['no_longer_narrow']}"
    )


def print_result(result: Comparison) -> None:
    title = f"B ({result['run_b']['path']}) against A ({result['run_a']['path']}); p: McNemar exact"
    console.table(title, SHORT_COLUMNS, _rows(result))
    broken = [f for f in result["flips"] if f["change"] == "broken"][:5]
    if broken:
        console.table(
            "facts B broke (first 5)",
            ["fact", "answer", "A's answer", "B's answer"],
            [[f["probe_id"], f["answer"], f["a_text"], f["b_text"]] for f in broken],
        )
