"""The shared statistics: exact at the edges (a 0% or 100% rate has a bound of exactly 0 or 1), and intervals
that contain their estimate."""

from __future__ import annotations

import numpy as np
import pytest

from sftdebug.core.stats import bootstrap_ci, mean, percentiles, wilson


@pytest.mark.parametrize("k,n", [(0, 1), (0, 40), (40, 40), (1, 1), (3, 40), (17, 23), (999, 1000)])
def test_wilson_is_a_valid_interval(k: int, n: int) -> None:
    lo, hi = wilson(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    if k == n:
        assert hi == 1.0, "a 100% rate: the upper bound is exactly 1 (not 0.9999999999999999)"
    if k == 0:
        assert lo == 0.0


def test_wilson_reference_value_and_empty() -> None:
    lo, hi = wilson(3, 40)
    assert lo == pytest.approx(0.0258, abs=1e-3) and hi == pytest.approx(0.1988, abs=1e-3)
    assert wilson(0, 0) is None


def test_mean_and_percentiles() -> None:
    assert mean([]) is None and mean([True, False, True, True]) == 0.75
    assert percentiles(list(range(1, 101))) == {"min": 1, "p50": 51, "p90": 91, "p99": 100, "max": 100, "mean": 50}
    assert percentiles([]) == {}


def test_bootstrap_interval_contains_the_mean() -> None:
    values = np.random.default_rng(0).normal(5.0, 1.0, 200)
    lo, hi = bootstrap_ci(lambda idx: float(values[idx].mean()), len(values), np.random.default_rng(1))
    assert lo < 5.0 < hi and hi - lo < 0.5
