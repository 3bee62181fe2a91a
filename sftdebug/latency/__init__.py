"""Latency: generation time = b(prompt length) + k·output tokens, measured and fitted (`sftdebug latency`).

    from sftdebug.latency import LatencyConfig, run
    result = run(LatencyConfig(model="reports/lab-test/base", prompt_lens=(8, 32, 128), output_lens=(1, 16, 64)))

fit.py      pure (numpy): the robust fit, intervals, hold-out check, what-if table, roofline
load.py     pure: per load level (--concurrency 1,4,16) throughput and latency, the knee, prices
api.py      the public call: LatencyConfig in, LatencyResult out (checks, engine, run folder, summary)
measure.py  drives an engine over the grid of prompt and output lengths, at each load level
report.py   HTML section and terminal view (load_report.py: the load part);  cli.py  the command
"""

from __future__ import annotations

from typing import Any

from sftdebug.latency.api import LatencyConfig, LatencyResult, run
from sftdebug.latency.measure import SweepConfig, run_sweep

_FIT = ("fit_latency", "predict", "roofline", "summarize", "what_if")


def __getattr__(name: str) -> Any:
    # fit.py needs numpy: loaded on first use, so `sftdebug --help` (which imports latency.cli) stays light.
    if name in _FIT:
        from sftdebug.latency import fit

        return getattr(fit, name)
    raise AttributeError(f"module 'sftdebug.latency' has no attribute {name!r}")


__all__ = [
    "LatencyConfig",
    "LatencyResult",
    "SweepConfig",
    "fit_latency",
    "predict",
    "roofline",
    "run",
    "run_sweep",
    "summarize",
    "what_if",
]
