"""Robust polynomial regression for latency timings (pure numpy): a shared machine produces stragglers (a request
that waited 1 s behind another job), and least squares lets two of them tilt a prefill slope below zero.

Huber's M-estimator by iteratively reweighted least squares, on relative residuals (timing noise grows with
the time itself, so a 2 ms wobble at 10 ms and a 20 ms one at 100 ms weigh the same): residuals within c·σ
count fully, larger ones with weight c·σ/|u| (σ from the median absolute deviation, c = 1.345: 95% efficiency
on clean normal data). Points beyond 3.5σ are reported as outliers: shown in plots and counted, never silently
dropped.

    fit = huber_polyfit(p, ttft, degree=1)
    fit.coef, fit.r2, fit.outliers

`huber_hinge` fits TTFT that is flat up to p0 prompt tokens, then linear (a server whose prefill costs the same
for every short prompt: vLLM issue #7635); `robust_bic` compares candidate curves with one yardstick.
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


@dataclass(frozen=True)
class Hinge:
    """b(p) = b0 + b1·max(0, p − p0): flat up to p0 prompt tokens, then linear."""

    b0: float
    b1: float
    p0: float
    r2: float
    outliers: tuple[int, ...] = ()

    def __call__(self, p: Any) -> Any:
        return self.b0 + self.b1 * np.maximum(0.0, np.asarray(p, dtype=float) - self.p0)


KNOTS = 48  # knot positions tried by huber_hinge


def huber_hinge(p: ArrayLike, y: ArrayLike, p0: float | None = None) -> Hinge:
    """Huber fit of the hinge at knot `p0`; without one, the knot is searched over KNOTS positions from the second
    smallest prompt length up to (not including) the second largest, so that at least two lengths measure the flat
    level and two the slope, keeping the knot with the lowest Huber loss."""
    x, yy = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    if p0 is not None:
        fit = huber_polyfit(np.maximum(0.0, x - p0), yy, 1)
        return Hinge(fit.coef[0], fit.coef[1], float(p0), fit.r2, fit.outliers)
    lengths = np.unique(x)
    if len(lengths) < 4:
        raise ValueError(f"a hinge needs at least 4 distinct prompt lengths, got {len(lengths)}")
    knots = np.linspace(lengths[1], lengths[-2], KNOTS, endpoint=False)
    fits = [huber_hinge(x, yy, float(k)) for k in knots]
    scale = max(min(noise_scale(h, x, yy) for h in fits), MIN_SCALE)
    return min(fits, key=lambda h: huber_loss(h, x, yy, scale))


MIN_SCALE = 1e-3  # relative noise floor: no timer is steadier than 0.1%, and exact data must not divide by 0


def _relative(curve: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    fitted = np.asarray(curve(x), dtype=float)
    return (y - fitted) / np.maximum(np.abs(fitted), max(float(np.median(np.abs(y))) * 1e-3, 1e-12))


def noise_scale(curve: Any, p: ArrayLike, y: ArrayLike) -> float:
    """σ of a curve's relative residuals, from their median absolute deviation."""
    return _scale(_relative(curve, np.asarray(p, dtype=float), np.asarray(y, dtype=float)))


def huber_loss(curve: Any, p: ArrayLike, y: ArrayLike, scale: float) -> float:
    """Σ ρ(u/scale) over relative residuals u: Huber's ρ (u²/2 within HUBER_C, linear beyond), so a straggler
    counts as a miss, not as a square that drowns every other point."""
    z = np.abs(_relative(curve, np.asarray(p, dtype=float), np.asarray(y, dtype=float))) / scale
    return float(np.where(z <= HUBER_C, z * z / 2, HUBER_C * z - HUBER_C**2 / 2).sum())


def robust_bic(curves: dict[str, tuple[Any, int]], p: ArrayLike, y: ArrayLike) -> dict[str, float]:
    """BIC of each candidate curve (name → (curve, parameters)) with the Huber loss as −log-likelihood:
    2·Σρ(u/σ) + parameters·ln n, σ the noise scale of the best-fitting candidate (as Mallows' Cp takes σ from the
    largest model), at least MIN_SCALE. Lower is better; a hinge's knot counts as a parameter."""
    x, yy = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    scale = max(min(noise_scale(c, x, yy) for c, _ in curves.values()), MIN_SCALE)
    return {name: 2 * huber_loss(c, x, yy, scale) + k * float(np.log(len(x))) for name, (c, k) in curves.items()}
