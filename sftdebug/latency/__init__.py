"""Latency: generation time = b(prompt length) + k·output tokens, measured and fitted (`sftdebug latency`).

fit.py     pure (numpy): the robust fit, intervals, hold-out check, what-if table, roofline
measure.py drives an engine over the grid of prompt and output lengths
report.py  HTML section and terminal view;  cli.py  the command
"""

from __future__ import annotations

from typing import Any

from sftdebug.latency.measure import SweepConfig, run_sweep

_FIT = ("fit_latency", "predict", "roofline", "summarize", "what_if")


def __getattr__(name: str) -> Any:
    # fit.py needs numpy: loaded on first use, so `sftdebug --help` (which imports latency.cli) stays light.
    if name in _FIT:
        from sftdebug.latency import fit

        return getattr(fit, name)
    raise AttributeError(f"module 'sftdebug.latency' has no attribute {name!r}")


__all__ = ["SweepConfig", "fit_latency", "predict", "roofline", "run_sweep", "summarize", "what_if"]
