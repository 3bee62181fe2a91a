"""Two hallucination runs over the same probes, fact by fact: which facts one run got right and the other wrong,
and whether the difference is more than chance (McNemar's exact test on the pairs). Pure: records in, a
`Comparison` out (what compare.json holds, declared in schema.py).

    result = compare_runs(records_a, records_b)   # records: each run's verdict records
    result["sft_correct"]["p_value"]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sftdebug.compare.schema import Block, Comparison, Flip, Paired
from sftdebug.core.errors import UsageError
from sftdebug.core.stats import mcnemar_exact

# What `--fail-above` can gate on: counts of the whole comparison.
GATE_METRICS = ("broken", "fixed", "newly_narrow", "no_longer_narrow")


def _paired(a: Sequence[bool], b: Sequence[bool]) -> Paired:
    """Counts of the four outcomes and McNemar's p on the two discordant ones."""
    lost = sum(x and not y for x, y in zip(a, b, strict=True))  # true in A, false in B
    won = sum(y and not x for x, y in zip(a, b, strict=True))
    return {
        "n": len(a),
        "a_rate": sum(a) / len(a) if a else None,
        "b_rate": sum(b) / len(b) if b else None,
        "a_only": lost,
        "b_only": won,
        "both": sum(x and y for x, y in zip(a, b, strict=True)),
        "p_value": mcnemar_exact(lost, won),
    }


def _block(pairs: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> Block:
    answered = [(a, b) for a, b in pairs if a["answer"] is not None]
    correct = _paired([a["sft_correct"] for a, _ in answered], [b["sft_correct"] for _, b in answered])
    narrow = _paired(
        [a["verdict"] == "narrow_hallucination" for a, _ in answered],
        [b["verdict"] == "narrow_hallucination" for _, b in answered],
    )
    return {
        "sft_correct": correct,
        "narrow": narrow,
        "fixed": correct["b_only"],
        "broken": correct["a_only"],
        "newly_narrow": narrow["b_only"],
        "no_longer_narrow": narrow["a_only"],
    }


def compare_runs(records_a: Sequence[dict[str, Any]], records_b: Sequence[dict[str, Any]]) -> Comparison:
    """Paired comparison of run B against run A (B "fixed" a fact A got wrong, "broke" one A got right)."""
    by_a = {r["probe_id"]: r for r in records_a}
    by_b = {r["probe_id"]: r for r in records_b}
    if set(by_a) != set(by_b):
        only_a, only_b = len(set(by_a) - set(by_b)), len(set(by_b) - set(by_a))
        raise UsageError(
            f"the two runs probed different facts ({len(by_a)} vs {len(by_b)}; {only_a} only in the first, "
            f"{only_b} only in the second): compare runs over the same probes"
        )
    keys = sorted(by_a)
    pairs = [(by_a[k], by_b[k]) for k in keys]
    relations = sorted({str(a.get("relation")) for a, _ in pairs})
    flips: list[Flip] = [
        {
            "probe_id": k,
            "relation": a.get("relation"),
            "answer": a["answer"],
            "change": "fixed" if b["sft_correct"] else "broken",
            "a_verdict": a["verdict"],
            "b_verdict": b["verdict"],
            "sft_prompt": a["sft_prompt"],
            "a_text": a["sft_text"],
            "b_text": b["sft_text"],
        }
        for k, (a, b) in zip(keys, pairs, strict=True)
        if a["answer"] is not None and a["sft_correct"] != b["sft_correct"]
    ]
    return {
        "n_probes": len(keys),
        **_block(pairs),
        "by_relation": {rel: _block([(a, b) for a, b in pairs if str(a.get("relation")) == rel]) for rel in relations},
        "flips": flips,
    }
