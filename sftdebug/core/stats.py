"""The statistics every summary uses, in one pure module: means, proportions with intervals, percentiles and
bootstrap intervals. Intervals are clamped to what the quantity allows (a rate stays in [0, 1]).

    wilson(3, 40)            # (0.026, 0.199)
    bootstrap_ci(stat, n=36, rng=np.random.default_rng(0))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

BOOTSTRAP = 1000


def mean(xs: Sequence[bool | int | float]) -> float | None:
    """The mean, or None for no values (a rate over nothing is unknown, not 0)."""
    return sum(xs) / len(xs) if xs else None


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float] | None:
    """95% Wilson score interval for a proportion (None when n == 0). Good at small n and near 0 or 1,
    where the normal approximation gives impossible bounds. Exact at the edges: 0/n starts at 0, n/n ends at 1
    (floating point would otherwise give 0.9999999999999999)."""
    if n == 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, min(p, centre - half))
    hi = 1.0 if successes == n else min(1.0, max(p, centre + half))
    return lo, hi


def percentiles(values: Sequence[int]) -> dict[str, int]:
    """min, p50, p90, p99, max and the rounded mean of integer values (token lengths); {} for none."""
    s = sorted(values)
    if not s:
        return {}
    at = lambda q: s[min(len(s) - 1, int(q * len(s)))]  # noqa: E731
    return {"min": s[0], "p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": s[-1], "mean": round(sum(s) / len(s))}


def bootstrap_ci(
    stat: Callable[[np.ndarray], float], n: int, rng: np.random.Generator, reps: int = BOOTSTRAP
) -> tuple[float, float]:
    """95% percentile-bootstrap interval of `stat(indices)` over `reps` resamples of n items."""
    import numpy as np

    values = [stat(rng.integers(0, n, n)) for _ in range(reps)]
    lo, hi = np.nanpercentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for paired binary outcomes: `b` pairs changed one way, `c` the other
    (the pairs that did not change carry no information). Under H0 each change goes either way with p = 1/2."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
    return min(1.0, 2 * tail / 2**n)
