"""The shape of a latency run's summary.json, declared for mypy: the report, the terminal view and the gates
(`--fail-above regression=…`) read it by these names. The blocks inside (`fit`, `what_if`, `roofline`, `baseline`)
are documented where they are made (fit.py, baseline.py) and stay plain dicts here.

    summary = read_summary("reports/latency/run")   # a LatencySummary
    summary["fit"]["per_token_s"], summary.get("regression")
"""

# No `from __future__ import annotations` (as in hallucination/schema.py): NotRequired keys must be visible at run
# time, where tests/test_summaries.py checks written files against these types.
from typing import Any, NotRequired

from sftdebug.core.runs import RunSummary


class LatencySummary(RunSummary):
    n_requests: int  # timed requests in the fit
    concurrency: NotRequired[int]  # > 1: latency under load, not of one request (runs before it: 1)
    n_failed: int
    fit: dict[str, Any]  # fit.py:fit_latency
    what_if: list[dict[str, Any]]  # fit.py:what_if
    cot_tokens: int
    hardware: dict[str, Any]
    roofline: dict[str, Any]  # the floor comparison, or a `status` saying why there is none
    n_retried: NotRequired[int]
    baseline: NotRequired[dict[str, Any]]  # with --baseline: baseline.py:compare, and the run it came from
    regression: NotRequired[float | None]  # the largest relative slow-down against the baseline
    levels: NotRequired[list[dict[str, Any]]]  # --concurrency sweep (load.py): each level's requests, fit, what-if
    knee: NotRequired[int | None]  # the level where latency climbs and throughput stops (load.py:knee)
    knee_rule: NotRequired[str]
    price_per_hour: NotRequired[float]  # with --price-per-hour: what_if rows carry costs
