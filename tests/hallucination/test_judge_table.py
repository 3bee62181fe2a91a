"""The judges against a human: `base_correct` / `sft_correct` on real outputs of Gemma-3-270m (base continuations)
and SmolLM2-135M-Instruct (chat answers), each labelled by hand (tests/hallucination/judge_table.jsonl; how the
rows were made: benchmarks/judge_accuracy.py, which writes the figures to benchmarks/judge.md).

    PYTHONPATH=$PWD .venv/bin/python -m pytest -q tests/hallucination/test_judge_table.py
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sftdebug.facts.probes import Probe
from sftdebug.hallucination.verdicts import base_correct, sft_correct

TABLE = Path(__file__).with_name("judge_table.jsonl")
MIN_ACCURACY = 0.95  # 98.5% (452/459) when the table was made: a bar with room, so one odd rule fails loudly
FIELDS = {
    "model",
    "side",
    "probe_id",
    "lang",
    "prompt",
    "answer",
    "aliases",
    "candidates",
    "subject",
    "output",
    "label",
}


def judge(row: dict[str, Any]) -> bool:
    """What the run's judge says about one table row."""
    probe = Probe(
        id=row["probe_id"],
        cloze=(row["prompt"],),
        question=(row["prompt"],),
        answer=row["answer"],
        aliases=tuple(row["aliases"]),
        candidates=tuple(row["candidates"]),
        subject=row["subject"],
        lang=row["lang"],
    )
    return (base_correct if row["side"] == "base" else sft_correct)(row["output"], probe)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in TABLE.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_table_is_big_and_covers_both_models_sides_and_languages(rows: list[dict[str, Any]]) -> None:
    assert len(rows) >= 120, f"only {len(rows)} labelled rows"
    for i, r in enumerate(rows, 1):
        assert r.keys() >= FIELDS and isinstance(r["label"], bool), f"row {i} is malformed: {r}"
    cells = Counter((r["side"], r["lang"]) for r in rows)
    assert all(cells[(side, lang)] >= 20 for side in ("base", "sft") for lang in ("en", "zh")), cells
    assert {r["model"] for r in rows} == {"gemma-3-270m", "smollm2-135m-instruct"}
    labels = Counter(r["label"] for r in rows)
    assert min(labels.values()) >= 0.25 * len(rows), f"labels too one-sided to measure a judge: {labels}"


def test_judge_agrees_with_the_hand_labels(rows: list[dict[str, Any]]) -> None:
    wrong = [r for r in rows if judge(r) != r["label"]]
    accuracy = 1 - len(wrong) / len(rows)
    listing = "\n".join(
        f"  {r['side']} {r['probe_id']}: {r['output']!r} label={r['label']} judge={not r['label']}" for r in wrong
    )
    assert accuracy >= MIN_ACCURACY, f"judge accuracy {accuracy:.1%} < {MIN_ACCURACY:.0%}; disagreements:\n{listing}"
