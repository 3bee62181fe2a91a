"""How often the hallucination judges agree with a human: `base_correct` and `sft_correct` on the hand-labelled
table of real model outputs (tests/hallucination/judge_table.jsonl: Gemma-3-270m continuing clozes, zero- and
few-shot; SmolLM2-135M-Instruct answering questions, plain and leading; English and Chinese built-in probes).
No model runs here: the outputs were generated once and labelled by hand; this scores the judge of the checkout.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/judge_accuracy.py     # writes benchmarks/judge.md
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from common import ROOT

sys.path.insert(0, str(ROOT / "tests" / "hallucination"))
from test_judge_table import TABLE, judge

from sftdebug.core.stats import wilson

Row = dict[str, Any]


def _line(name: str, rows: Sequence[Row]) -> str:
    right = sum(judge(r) == r["label"] for r in rows)
    lo, hi = wilson(right, len(rows)) or (float("nan"), float("nan"))
    positives = sum(r["label"] for r in rows)
    return f"| {name} | {len(rows)} | {positives} | {right / len(rows):.1%} | {lo:.1%}–{hi:.1%} |"


def _split(rows: Sequence[Row], key: Callable[[Row], str]) -> list[str]:
    groups: dict[str, list[Row]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return [_line(k, v) for k, v in sorted(groups.items())]


def _disagreements(rows: Sequence[Row]) -> list[str]:
    wrong = [r for r in rows if judge(r) != r["label"]]
    if not wrong:
        return ["None: the judge agrees with the hand label on every row."]
    out = ["| side | probe | prompt | output | human | judge | why |", "|---|---|---|---|---|---|---|"]
    for r in wrong:
        cells = [r["side"], r["probe_id"], r["prompt"], r["output"], r["label"], not r["label"], r.get("why", "")]
        out.append("| " + " | ".join(str(c).replace("|", "\\|").replace("\n", "⏎") for c in cells) + " |")
    return out


def run() -> str:
    rows = [json.loads(line) for line in TABLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    head = ["| rows | n | labelled right | judge accuracy | 95% Wilson |", "|---|---|---|---|---|"]
    table = [
        _line("all", rows),
        *_split(rows, lambda r: f"side: {r['side']}"),
        *_split(rows, lambda r: f"language: {r['lang']}"),
        *_split(rows, lambda r: f"{r['side']} / {r['lang']}"),
        *_split(rows, lambda r: f"{r['model']}, {r['side']}: {r['mode']}"),
    ]
    return "\n".join(
        [
            "## Judge accuracy against hand labels\n",
            f"{len(rows)} real outputs, each labelled by hand: does the output give the right answer as its claim? "
            "`base` rows are judged by `base_correct` (first clause, first named candidate), `sft` rows by "
            "`sft_correct` (first sentence, first named candidate). The `base` side also holds SmolLM2 continuing the "
            "cloze (the run's format-loss check judges it so); leading questions (\"Is Sydney the capital of "
            'Australia?") are SmolLM2 answers to questions that plant a wrong option. Outputs with no word at all '
            "(empty, or a lone colon) were left out: there is nothing to judge.\n",
            *head,
            *table,
            "\n### Disagreements\n",
            *_disagreements(rows),
            "",
        ]
    )


if __name__ == "__main__":
    text = run()
    (Path(__file__).resolve().parent / "judge.md").write_text(f"_{time.strftime('%Y-%m-%d %H:%M')}_\n\n{text}")
    print(text)
