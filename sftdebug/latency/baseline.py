"""A latency baseline gate: predicted end-to-end time on a workload grid, this run against an earlier one. Pure.

    sftdebug latency --model M --baseline reports/latency/last-week --fail-above regression=0.1

For each (prompt, answer) cell of the what-if grid, both fits predict e2e = b(p) + k·(x − 1); the ratio now/base
comes with a conservative 95% interval from each fit's curve band and k interval. `regression` is the largest
relative slow-down over the grid (negative: faster everywhere), the number `--fail-above regression=…` gates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sftdebug.latency.fit import predict


def _interval(fit: dict[str, Any], p: float, x: float) -> tuple[float, float] | None:
    """e2e prediction interval from the stored TTFT band and k interval (None for fits that have no band)."""
    band = fit.get("ttft_band")
    if not band or p > band["p"][-1]:
        return None
    lo = float(np.interp(p, band["p"], band["lo"])) + fit["per_token_s_ci95"][0] * max(0.0, x - 1)
    hi = float(np.interp(p, band["p"], band["hi"])) + fit["per_token_s_ci95"][1] * max(0.0, x - 1)
    return lo, hi


def compare(
    now: dict[str, Any], base: dict[str, Any], prompt_lens: Sequence[int], answer_lens: Sequence[int]
) -> dict[str, Any]:
    """The `baseline` block of summary.json (see module docstring)."""
    cells: list[dict[str, Any]] = []
    for p in prompt_lens:
        for x in answer_lens:
            t_now, t_base = predict(now, p, x), predict(base, p, x)
            i_now, i_base = _interval(now, p, x), _interval(base, p, x)
            ci: list[float] | None = None
            if i_now and i_base and i_base[0] > 0:
                ci = [i_now[0] / i_base[1] - 1, i_now[1] / i_base[0] - 1]
            cells.append(
                {
                    "prompt_tokens": p,
                    "answer_tokens": x,
                    "now_s": t_now,
                    "base_s": t_base,
                    "change": t_now / t_base - 1,
                    "change_ci95": ci,
                }
            )
    worst = max(cells, key=lambda c: c["change"])
    return {
        "cells": cells,
        "regression": worst["change"],
        "regression_ci95": worst["change_ci95"],
        "significant": bool(worst["change_ci95"] and worst["change_ci95"][0] > 0),
    }
