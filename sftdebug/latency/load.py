"""Latency under load (pure): per load level the fit, throughput and latency percentiles; the knee; prices.

    sftdebug latency --engine openai --endpoint URL --model M --concurrency 1,4,16,64 --price-per-hour 2.5

At level L the sweep keeps L requests in flight (latency/measure.py), so by Little's law the server finishes L / R̄
requests a second (R̄ the mean end-to-end time): throughput = L · Σ output tokens / Σ end-to-end seconds over the
level's requests. It comes from the records alone (no wall clock), so a resumed level counts the same.

The knee is the first level whose median end-to-end latency is more than KNEE_LATENCY_RISE above the previous
level's while its throughput gains less than KNEE_THROUGHPUT_GAIN: from there on, more requests in flight mostly
wait longer.

Prices (`--price-per-hour P`): a server kept at level L serves L requests at once, so a request predicted to take
t seconds costs P / 3600 · t / L dollars; per 1M output tokens, that divided by its output tokens, times 10⁶.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from sftdebug.latency.fit import fit_latency, summarize, what_if
from sftdebug.latency.schema import LatencySummary

KNEE_LATENCY_RISE = 0.25  # median end-to-end latency up by more than 25% over the previous level…
KNEE_THROUGHPUT_GAIN = 0.10  # …while output tokens per second gain less than 10%
KNEE_RULE = (
    f"the first level whose median end-to-end latency is more than {KNEE_LATENCY_RISE:.0%} above the "
    f"previous level's while its throughput gains less than {KNEE_THROUGHPUT_GAIN:.0%}"
)


def level_of(record: dict[str, Any]) -> int:
    return int(record.get("concurrency", 1))  # runs before the load sweep sent one request at a time


def level_stats(records: Sequence[dict[str, Any]], level: int) -> dict[str, Any]:
    """Throughput (output tokens/s, by Little's law) and latency percentiles of one level's requests."""
    e2e = np.asarray([r["e2e_s"] for r in records], dtype=float)
    tokens = sum(r["x"] for r in records)
    return {
        "concurrency": level,
        "n_requests": len(records),
        "throughput_tok_s": level * tokens / float(e2e.sum()) if e2e.sum() > 0 else None,
        "p50_ttft_s": float(np.median([r["ttft_s"] for r in records])),
        "p50_e2e_s": float(np.median(e2e)),
        "p90_e2e_s": float(np.percentile(e2e, 90)),
    }


def knee(levels: Sequence[dict[str, Any]]) -> int | None:
    """The knee's level (see the module docstring), or None if latency never climbs that way."""
    for prev, cur in itertools.pairwise([lv for lv in levels if lv.get("throughput_tok_s")]):
        slower = cur["p50_e2e_s"] > prev["p50_e2e_s"] * (1 + KNEE_LATENCY_RISE)
        flat = cur["throughput_tok_s"] < prev["throughput_tok_s"] * (1 + KNEE_THROUGHPUT_GAIN)
        if slower and flat:
            return int(cur["concurrency"])
    return None


def priced(rows: Sequence[dict[str, Any]], level: int, price_per_hour: float, cot: int) -> list[dict[str, Any]]:
    """What-if rows with their cost in dollars at this level (see the module docstring); with CoT, the tokens
    per 1M count the chain of thought too."""
    per_second = price_per_hour / 3600 / level
    out = []
    for row in rows:
        usd, usd_cot = per_second * row["predicted_s"], per_second * row["with_cot_s"]
        out.append(
            {
                **row,
                "usd_per_request": usd,
                "usd_per_request_with_cot": usd_cot,
                "usd_per_1m_output_tokens": usd / row["answer_tokens"] * 1e6,
                "usd_per_1m_output_tokens_with_cot": usd_cot / (row["answer_tokens"] + cot) * 1e6,
            }
        )
    return out


def summarize_load(
    records: Sequence[dict[str, Any]],
    levels: Sequence[int],
    n_cells: int,
    what_if_grid: tuple[Sequence[int], Sequence[int], int],
    hardware: dict[str, Any],
    seed: int = 0,
    price_per_hour: float | None = None,
) -> LatencySummary:
    """summary.json of a latency run: the first (lowest) level's fit, what-if table and roofline, as a run of one
    level always had, then `levels` (each level's requests, throughput, percentiles, fit and what-if) and `knee`."""
    prompts, answers, cot = what_if_grid
    by_level = {lv: [r for r in records if level_of(r) == lv] for lv in levels}
    first = by_level[levels[0]]
    summary = summarize(first, n_cells - len(first), prompts, answers, cot, hardware, seed, concurrency=levels[0])
    rows: list[dict[str, Any]] = []
    for lv, recs in by_level.items():
        row: dict[str, Any] = level_stats(recs, lv) if recs else {"concurrency": lv, "n_requests": 0}
        row["n_failed"] = n_cells - len(recs)
        if len(recs) >= 4:  # enough to fit (a level whose requests all failed has no fit)
            fit = summary["fit"] if lv == levels[0] else fit_latency(recs, seed=seed)
            row.update(fit=fit, what_if=what_if(fit, prompts, answers, cot, max(r["p"] for r in recs)))
            if price_per_hour:
                row["what_if"] = priced(row["what_if"], lv, price_per_hour, cot)
        rows.append(row)
    if price_per_hour:
        summary["price_per_hour"] = price_per_hour
        summary["what_if"] = priced(summary["what_if"], levels[0], price_per_hour, cot)
    summary["n_requests"] = len(records)
    summary["n_failed"] = n_cells * len(levels) - len(records)
    summary["levels"], summary["knee"], summary["knee_rule"] = rows, knee(rows), KNEE_RULE
    return summary
