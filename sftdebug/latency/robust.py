"""Robust polynomial regression for latency timings (pure numpy): a shared machine produces stragglers (a request
that waited 1 s behind another job), and least squares lets two of them tilt a prefill slope below zero.

Huber's M-estimator by iteratively reweighted least squares, on relative residuals (timing noise grows with
the time itself, so a 2 ms wobble at 10 ms and a 20 ms one at 100 ms weigh the same): residuals within c·σ
count fully, larger ones with weight c·σ/|u| (σ from the median absolute deviation, c = 1.345: 95% efficiency
on clean normal data). Points beyond 3.5σ are reported as outliers: shown in plots and counted, never silently
dropped.

    fit = huber_polyfit(p, ttft, degree=1)
    fit.coef, fit.r2, fit.outliers
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

HUBER_C = 1.345
OUTLIER_SIGMAS = 3.5


@dataclass(frozen=True)
class Poly:
    coef: tuple[float, ...]  # c0, c1[, c2]: y ≈ Σ c_i p^i
    r2: float  # on the points that are not outliers
    outliers: tuple[int, ...] = ()  # indices of points beyond OUTLIER_SIGMAS robust standard deviations

    def __call__(self, p: Any) -> Any:
        return sum(c * np.asarray(p, dtype=float) ** i for i, c in enumerate(self.coef))


def _r2(y: np.ndarray, fitted: np.ndarray) -> float:
    total = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - fitted) ** 2).sum()) / total if total > 0 else 1.0


def _scale(resid: np.ndarray) -> float:
    """σ from the median absolute deviation (consistent for normal noise)."""
    return float(1.4826 * np.median(np.abs(resid - np.median(resid))))


def polyfit(p: ArrayLike, y: ArrayLike, degree: int) -> Poly:
    """Ordinary least squares y ≈ Σ c_i p^i, with R² (no outliers flagged)."""
    x, yy = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    design = np.vander(x, degree + 1, increasing=True)
    coef, *_ = np.linalg.lstsq(design, yy, rcond=None)
    return Poly(tuple(float(c) for c in coef), _r2(yy, design @ coef))


def huber_polyfit(p: ArrayLike, y: ArrayLike, degree: int, iterations: int = 20) -> Poly:
    """Huber-weighted y ≈ Σ c_i p^i on relative residuals (see module docstring)."""
    x, yy = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    design = np.vander(x, degree + 1, increasing=True)
    # Columns scaled to unit size so that p² (up to ~10⁶) and 1 share one numeric range.
    norm = np.maximum(np.abs(design).max(axis=0), 1e-12)
    d = design / norm
    coef, *_ = np.linalg.lstsq(d, yy, rcond=None)
    floor = max(float(np.median(np.abs(yy))) * 1e-3, 1e-12)
    sigma = 0.0
    for _ in range(iterations):
        fitted = d @ coef
        size = np.maximum(np.abs(fitted), floor)
        u = (yy - fitted) / size
        sigma = _scale(u)
        if sigma <= 0:
            break
        sw = np.sqrt(np.minimum(1.0, HUBER_C * sigma / np.maximum(np.abs(u), 1e-300))) / size
        new, *_ = np.linalg.lstsq(d * sw[:, None], yy * sw, rcond=None)
        done = np.allclose(new, coef, rtol=1e-7, atol=1e-15)
        coef = new
        if done:
            break
    fitted = d @ coef
    u = (yy - fitted) / np.maximum(np.abs(fitted), floor)
    outliers = np.flatnonzero(np.abs(u) > OUTLIER_SIGMAS * sigma) if sigma > 0 else np.array([], dtype=int)
    keep = np.setdiff1d(np.arange(len(yy)), outliers)
    r2 = _r2(yy[keep], fitted[keep]) if len(keep) >= 2 else _r2(yy, fitted)
    return Poly(tuple(float(c) for c in coef / norm), r2, tuple(int(i) for i in outliers))
