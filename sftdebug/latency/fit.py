"""Latency maths: fit generation time = b(p) + k·x from per-request timings. Pure (numpy only), no clocks.

b(p) is the time to the first token for a prompt of p tokens (prefill; b0 + b1·p, or quadratic, or flat up to p0
tokens and then linear, where the data asks for it), k the time per further output token, x the number of output
tokens, so

    e2e(p, x) ≈ b(p) + k·(x − 1)

The TTFT curve is fitted robustly (Huber, latency/robust.py) so a few stragglers of a shared machine do not
tilt it; they are counted and shown as outliers. k is the median per-request decode time per token. Every
parameter gets a 95% bootstrap interval (resampling requests), the chosen curve a 95% bootstrap band, and a
hold-out check predicts end-to-end time for each (p, x) cell from a fit of the other cells. The fit says when
it is not to be trusted (R² low, b1's interval containing 0, hold-out error over 10%) instead of printing
numbers as if it were.

    fit = fit_latency(records)   # records: dicts with p, x, ttft_s, e2e_s, itl_s
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sftdebug.core.stats import BOOTSTRAP
from sftdebug.latency.robust import Hinge, Poly, huber_hinge, huber_polyfit, polyfit, robust_bic
from sftdebug.latency.schema import LatencySummary

MIN_R2, MAX_HOLDOUT_ERROR = 0.8, 0.10  # below / above these the fit is reported as not trustworthy
BAND_POINTS = 40
Curve = Poly | Hinge  # a TTFT model b(p)


def _adjusted_r2(r2: float, n: int, k: int) -> float:
    return 1 - (1 - r2) * (n - 1) / max(1, n - k - 1)


def per_token(records: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """All inter-token gaps, and the context length (p + position) at which each was measured."""
    gaps, ctx = [], []
    for r in records:
        for i, g in enumerate(r.get("itl_s") or []):
            gaps.append(g)
            ctx.append(r["p"] + i + 1)
    return np.asarray(gaps, dtype=float), np.asarray(ctx, dtype=float)


def _request_k(records: Sequence[dict[str, Any]]) -> np.ndarray:
    """Each request's decode time per token ((e2e − ttft) / (x − 1)); NaN for single-token requests."""
    return np.asarray([(r["e2e_s"] - r["ttft_s"]) / (r["x"] - 1) if r["x"] > 1 else np.nan for r in records])


def _median(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(np.median(finite)) if len(finite) else float("nan")


def _k_of(records: Sequence[dict[str, Any]]) -> float:
    """k: the median over requests of each request's decode time per token."""
    return _median(_request_k(records))


def _ci(values: Any) -> list[float]:
    return [float(v) for v in np.nanpercentile(values, [2.5, 97.5])]


def _fit_ttft(
    p: np.ndarray, ttft: np.ndarray, kreq: np.ndarray, grid: np.ndarray, seed: int
) -> tuple[str, Curve, dict[str, Any]]:
    """The TTFT model and, from one resampling of the requests, the intervals of b0, b1 (linear), k, and the
    chosen curve's band. Linear unless a quadratic term is clearly there (its bootstrap interval excludes 0 and
    adjusted R² improves, as attention's p² term does for long prompts); then the hinge (flat, then linear)
    replaces that choice if its robust BIC is lower (latency/robust.py). The hinge's band holds its knot fixed."""
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(p), len(p)) for _ in range(BOOTSTRAP)]
    try_quad = len(set(p.tolist())) >= 4
    b0, b1, ks, b2, lin_curves, quad_curves = [], [], [], [], [], []
    for i in draws:
        lin = huber_polyfit(p[i], ttft[i], 1)
        b0.append(lin.coef[0])
        b1.append(lin.coef[1])
        ks.append(_median(kreq[i]))
        lin_curves.append(lin(grid))
        if try_quad:
            quad = huber_polyfit(p[i], ttft[i], 2)
            b2.append(quad.coef[2])
            quad_curves.append(quad(grid))
    model, chosen, curves = "linear", huber_polyfit(p, ttft, 1), lin_curves
    candidates: dict[str, tuple[Any, int]] = {"linear": (chosen, 2)}
    if try_quad:
        quad = huber_polyfit(p, ttft, 2)
        lo2, hi2 = _ci(b2)
        n = len(p)
        if (lo2 > 0 or hi2 < 0) and _adjusted_r2(quad.r2, n, 2) > _adjusted_r2(chosen.r2, n, 1) + 0.002:
            model, chosen, curves = "quadratic", quad, quad_curves
            candidates["quadratic"] = (quad, 3)
        candidates["hinge"] = (huber_hinge(p, ttft), 3)
    bic = robust_bic(candidates, p, ttft)
    if bic.get("hinge", np.inf) < bic[model]:
        model, chosen = "hinge", candidates["hinge"][0]
        curves = [huber_hinge(p[i], ttft[i], chosen.p0)(grid) for i in draws]
    lo, hi = np.nanpercentile(np.asarray(curves), [2.5, 97.5], axis=0)
    band = {"p": grid.tolist(), "lo": lo.tolist(), "hi": hi.tolist()}
    return model, chosen, {"b0": _ci(b0), "b1": _ci(b1), "k": _ci(ks), "band": band, "bic": bic}


def trust_reasons(fit: dict[str, Any]) -> list[str]:
    """Why the fit should not be read as a cost model (empty: it can be)."""
    reasons = []
    if fit["r2_ttft"] < MIN_R2:
        reasons.append(f"prompt length explains little of TTFT (R² {fit['r2_ttft']:.2f} < {MIN_R2})")
    lo, hi = fit["ttft_per_prompt_token_s_ci95"]
    if lo <= 0 <= hi:
        reasons.append(
            "b1's 95% interval contains 0: no measurable prefill cost per prompt token (a tiny model, or prompts "
            "too short: try longer --prompt-lens)"
        )
    mape = fit.get("holdout_mape")
    if mape is not None and mape > MAX_HOLDOUT_ERROR:
        reasons.append(f"hold-out error {100 * mape:.0f}% > {100 * MAX_HOLDOUT_ERROR:.0f}%: the model predicts poorly")
    return reasons


def fit_latency(records: Sequence[dict[str, Any]], seed: int = 0) -> dict[str, Any]:
    """The `fit` block of summary.json (see module docstring)."""
    if len(records) < 4:
        raise ValueError(f"need at least 4 timed requests to fit, got {len(records)}")
    p = np.asarray([r["p"] for r in records], dtype=float)
    ttft = np.asarray([r["ttft_s"] for r in records], dtype=float)
    kreq = _request_k(records)
    grid = np.linspace(0.0, float(p.max()) * 1.05, BAND_POINTS)
    model, b, boot = _fit_ttft(p, ttft, kreq, grid, seed)
    linear = b if isinstance(b, Poly) and model == "linear" else huber_polyfit(p, ttft, 1)
    k = _median(kreq)
    p_mid = float(np.median(p))
    fit: dict[str, Any] = {
        "method": "huber",
        **curve_fields(model, b),  # the chosen model: what predictions and plots use
        "ttft_bic": boot["bic"],  # robust BIC of each candidate TTFT model (lower is better)
        "ttft_band": boot["band"],
        "ttft_intercept_s": linear.coef[0],
        "ttft_intercept_s_ci95": boot["b0"],
        "ttft_per_prompt_token_s": linear.coef[1],
        "ttft_per_prompt_token_s_ci95": boot["b1"],
        "r2_ttft": b.r2,
        "n_outliers": len(b.outliers),
        "outlier_keys": [str(records[i].get("key", i)) for i in b.outliers],
        "per_token_s": k,
        "per_token_s_ci95": boot["k"],
        "median_prompt_tokens": p_mid,
        "b_over_k": float(b(p_mid)) / k if k > 0 else None,
        "b0_over_k": float(b(0.0)) / k if k > 0 else None,
    }
    if model == "quadratic":
        fit.update(ttft_quadratic_coef=fit["ttft_coef"], r2_ttft_quadratic=b.r2)
    gaps, ctx = per_token(records)
    if len(gaps) >= 3 and len(set(ctx.tolist())) >= 2:
        fit["per_token_slope_s_per_context_token"] = polyfit(ctx, gaps, 1).coef[1]
    fit["holdout_mape"], fit["holdout_cells"] = holdout_mape(records, model, b.p0 if isinstance(b, Hinge) else None)
    fit["holdout_method"] = "leave-one-cell-out"
    fit["trust_reasons"] = trust_reasons(fit)
    fit["trustworthy"] = not fit["trust_reasons"]
    return fit


def curve_fields(model: str, curve: Curve) -> dict[str, Any]:
    """The fit's fields for its chosen TTFT model: `ttft_coef` (b(p) = Σ c_i p^i) or `ttft_hinge`."""
    if isinstance(curve, Hinge):
        return {"ttft_model": model, "ttft_hinge": {"b0": curve.b0, "b1": curve.b1, "p0": curve.p0}}
    return {"ttft_model": model, "ttft_coef": list(curve.coef)}


def curve_of(fit: dict[str, Any]) -> Curve:
    """The TTFT model the fit chose (older runs without `ttft_coef`: their linear or quadratic fields)."""
    if fit.get("ttft_model") == "hinge":
        h = fit["ttft_hinge"]
        return Hinge(h["b0"], h["b1"], h["p0"], 0.0)
    coef = fit.get("ttft_coef") or fit.get("ttft_quadratic_coef")
    if coef is None or (fit.get("ttft_model") != "quadratic" and "ttft_coef" not in fit):
        coef = [fit["ttft_intercept_s"], fit["ttft_per_prompt_token_s"]]
    return Poly(tuple(coef), 0.0)


def ttft_of(fit: dict[str, Any], p: float) -> float:
    """b(p) of the model the fit chose."""
    return float(curve_of(fit)(p))


def predict(fit: dict[str, Any], p: float, x: float) -> float:
    """Predicted end-to-end seconds for a p-token prompt and x output tokens."""
    return ttft_of(fit, p) + fit["per_token_s"] * max(0.0, x - 1)


def holdout_mape(
    records: Sequence[dict[str, Any]], model: str = "linear", knot: float | None = None
) -> tuple[float | None, int]:
    """Leave-one-cell-out: each (p, x) cell's requests predicted by a fit of all the other cells; the median
    |error| / actual over every request. Every cell is held out once, so the figure does not hang on which
    cells one random split happened to leave out (on a 12-cell grid that alone moved it from 5% to 16%).
    A hinge is refitted at the whole data's `knot`."""
    degree = 2 if model == "quadratic" else 1
    cells = sorted({(r["p_nominal"], r["x_nominal"]) for r in records})
    errors = []
    for cell in cells:
        train = [r for r in records if (r["p_nominal"], r["x_nominal"]) != cell]
        if len({r["p"] for r in train}) <= degree:
            return None, 0
        p, y = [r["p"] for r in train], [r["ttft_s"] for r in train]
        b = huber_hinge(p, y, knot) if model == "hinge" else huber_polyfit(p, y, degree)
        fit = {**curve_fields(model, b), "per_token_s": _k_of(train)}
        test = [r for r in records if (r["p_nominal"], r["x_nominal"]) == cell and r["e2e_s"] > 0]
        errors += [abs(predict(fit, r["p"], r["x"]) - r["e2e_s"]) / r["e2e_s"] for r in test]
    return (float(np.median(errors)) if errors else None), len(cells)


def what_if(
    fit: dict[str, Any], prompt_lens: Sequence[int], answer_lens: Sequence[int], cot: int, measured_max_p: float
) -> list[dict[str, Any]]:
    """Predicted latency per (prompt, answer) length, and what `cot` extra chain-of-thought tokens add.
    Rows beyond the longest measured prompt are marked as extrapolated."""
    rows = []
    for p in prompt_lens:
        for x in answer_lens:
            base, with_cot = predict(fit, p, x), predict(fit, p, x + cot)
            rows.append(
                {
                    "prompt_tokens": p,
                    "answer_tokens": x,
                    "predicted_s": base,
                    "with_cot_s": with_cot,
                    "cot_extra_s": with_cot - base,
                    "extrapolated": p > measured_max_p,
                }
            )
    return rows


# Peak numbers for common accelerators: (memory bandwidth GB/s, dense bf16 TFLOP/s), from vendor data sheets.
KNOWN_GPUS: dict[str, tuple[float, float]] = {
    "H100": (3350.0, 989.0),
    "A100": (2039.0, 312.0),
    "L40S": (864.0, 362.0),
    "L4": (300.0, 121.0),
    "A10G": (600.0, 125.0),
    "A10": (600.0, 125.0),
    "RTX 4090": (1008.0, 165.0),
    "T4": (320.0, 65.0),
    "V100": (900.0, 125.0),
}


def roofline(
    params: int, bytes_per_param: float, prompt_tokens: float, bandwidth_gbs: float, peak_tflops: float
) -> dict[str, float]:
    """Lower bounds: decoding reads every weight once per token (k_min); prefill does ~2·params FLOPs per
    prompt token (b_min). KV-cache reads are ignored, so k_min is optimistic for long contexts."""
    return {
        "k_min_s": params * bytes_per_param / (bandwidth_gbs * 1e9),
        "b_min_s": 2 * params * prompt_tokens / (peak_tflops * 1e12),
    }


def summarize(
    records: Sequence[dict[str, Any]],
    n_failed: int,
    what_if_prompts: Sequence[int],
    what_if_answers: Sequence[int],
    cot: int,
    hardware: dict[str, Any],
    seed: int = 0,
    concurrency: int = 1,
) -> LatencySummary:
    """summary.json of a latency run: the fit, the what-if table and the roofline comparison."""
    fit = fit_latency(records, seed=seed)
    return {
        "n_requests": len(records),
        "concurrency": concurrency,  # > 1: latency under load, not of one request
        "n_failed": n_failed,
        "fit": fit,
        "what_if": what_if(fit, what_if_prompts, what_if_answers, cot, max(r["p"] for r in records)),
        "cot_tokens": cot,
        "hardware": hardware,
        "roofline": _roofline(fit, hardware),
    }


def _roofline(fit: dict[str, Any], hardware: dict[str, Any]) -> dict[str, Any]:
    """The fit against the hardware's floor, or why there is no floor to compare with."""
    params, bw, tflops = hardware.get("params"), hardware.get("mem_bandwidth_gbs"), hardware.get("peak_tflops")
    if not (params and bw and tflops):
        return {
            "status": "hardware peak numbers unknown (CPU or unlisted GPU): pass "
            "--mem-bandwidth-gbs and --peak-tflops to compare with the floor"
        }
    floor = roofline(params, hardware.get("bytes_per_param", 2.0), fit["median_prompt_tokens"], bw, tflops)
    b_med = predict(fit, fit["median_prompt_tokens"], 1)
    return {**floor, "k_over_floor": fit["per_token_s"] / floor["k_min_s"], "b_over_floor": b_med / floor["b_min_s"]}
