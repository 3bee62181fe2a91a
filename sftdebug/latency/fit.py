"""Latency maths: fit generation time = b(p) + k·x from per-request timings. Pure (numpy only), no clocks.

b(p) is the time to the first token for a prompt of p tokens (prefill; b0 + b1·p, or quadratic where the data
asks for it), k the time per further output token, x the number of output tokens, so

    e2e(p, x) ≈ b(p) + k·(x − 1)

Every parameter gets a 95% bootstrap interval (resampling requests); a hold-out check predicts end-to-end time
for (p, x) cells left out of the fit and reports the median absolute percentage error.

    fit = fit_latency(records)   # records: dicts with p, x, ttft_s, e2e_s, itl_s
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

BOOTSTRAP = 1000


@dataclass(frozen=True)
class Poly:
    coef: tuple[float, ...]  # b0, b1[, b2]
    r2: float

    def __call__(self, p: Any) -> Any:
        return sum(c * np.asarray(p, dtype=float) ** i for i, c in enumerate(self.coef))


def polyfit(p: ArrayLike, y: ArrayLike, degree: int) -> Poly:
    """Least squares y ≈ Σ c_i p^i, with R²."""
    x, yy = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    design = np.vander(x, degree + 1, increasing=True)
    coef, *_ = np.linalg.lstsq(design, yy, rcond=None)
    resid = yy - design @ coef
    total = float(((yy - yy.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / total if total > 0 else 1.0
    return Poly(tuple(float(c) for c in coef), r2)


def _adjusted_r2(r2: float, n: int, k: int) -> float:
    return 1 - (1 - r2) * (n - 1) / max(1, n - k - 1)


def choose_ttft_model(p: np.ndarray, ttft: np.ndarray, rng: np.random.Generator) -> tuple[str, Poly]:
    """Linear unless a quadratic term is clearly there: its bootstrap interval excludes 0 and adjusted R²
    improves (attention's p² term shows only for long prompts)."""
    linear = polyfit(p, ttft, 1)
    if len(set(p)) < 4:
        return "linear", linear
    quad = polyfit(p, ttft, 2)
    b2 = _bootstrap(lambda idx: polyfit(np.asarray(p)[idx], np.asarray(ttft)[idx], 2).coef[2], len(p), rng)
    n = len(p)
    clearly = b2[0] > 0 or b2[1] < 0
    if clearly and _adjusted_r2(quad.r2, n, 2) > _adjusted_r2(linear.r2, n, 1) + 0.002:
        return "quadratic", quad
    return "linear", linear


def _bootstrap(stat: Any, n: int, rng: np.random.Generator, reps: int = BOOTSTRAP) -> tuple[float, float]:
    values = [stat(rng.integers(0, n, n)) for _ in range(reps)]
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def per_token(records: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """All inter-token gaps, and the context length (p + position) at which each was measured."""
    gaps, ctx = [], []
    for r in records:
        for i, g in enumerate(r.get("itl_s") or []):
            gaps.append(g)
            ctx.append(r["p"] + i + 1)
    return np.asarray(gaps, dtype=float), np.asarray(ctx, dtype=float)


def _k_of(records: Sequence[dict[str, Any]]) -> float:
    """k: mean inter-token time per request (requests weighted equally), from timestamps or e2e − ttft."""
    per_req = [(r["e2e_s"] - r["ttft_s"]) / (r["x"] - 1) for r in records if r["x"] > 1]
    return float(np.mean(per_req)) if per_req else float("nan")


def fit_latency(records: Sequence[dict[str, Any]], seed: int = 0, holdout_share: float = 0.25) -> dict[str, Any]:
    """The `fit` block of summary.json (see module docstring)."""
    if len(records) < 4:
        raise ValueError(f"need at least 4 timed requests to fit, got {len(records)}")
    rng = np.random.default_rng(seed)
    p = np.asarray([r["p"] for r in records], dtype=float)
    ttft = np.asarray([r["ttft_s"] for r in records], dtype=float)
    model, b = choose_ttft_model(p, ttft, rng)
    k = _k_of(records)
    idx_stat = lambda f: _bootstrap(f, len(records), rng)  # noqa: E731
    b0_ci = idx_stat(lambda i: polyfit(p[i], ttft[i], 1).coef[0])
    b1_ci = idx_stat(lambda i: polyfit(p[i], ttft[i], 1).coef[1])
    k_ci = idx_stat(lambda i: _k_of([records[j] for j in i]))
    gaps, ctx = per_token(records)
    linear = polyfit(p, ttft, 1)
    p_mid = float(np.median(p))
    fit: dict[str, Any] = {
        "ttft_model": model,
        "ttft_intercept_s": linear.coef[0],
        "ttft_intercept_s_ci95": list(b0_ci),
        "ttft_per_prompt_token_s": linear.coef[1],
        "ttft_per_prompt_token_s_ci95": list(b1_ci),
        "r2_ttft": linear.r2,
        "per_token_s": k,
        "per_token_s_ci95": list(k_ci),
        "median_prompt_tokens": p_mid,
        "b_over_k": float(b(p_mid)) / k if k > 0 else None,
        "b0_over_k": linear.coef[0] / k if k > 0 else None,
    }
    if model == "quadratic":
        fit.update(ttft_quadratic_coef=list(b.coef), r2_ttft_quadratic=b.r2)
    if len(gaps) >= 3 and len(set(ctx.tolist())) >= 2:
        slope = polyfit(ctx, gaps, 1)
        fit["per_token_slope_s_per_context_token"] = slope.coef[1]
    fit["holdout_mape"], fit["holdout_cells"] = holdout_mape(records, holdout_share, rng)
    return fit


def predict(fit: dict[str, Any], p: float, x: float) -> float:
    """Predicted end-to-end seconds for a p-token prompt and x output tokens."""
    if fit.get("ttft_model") == "quadratic":
        b = float(Poly(tuple(fit["ttft_quadratic_coef"]), 0.0)(p))
    else:
        b = fit["ttft_intercept_s"] + fit["ttft_per_prompt_token_s"] * p
    return b + fit["per_token_s"] * max(0.0, x - 1)


def holdout_mape(records: Sequence[dict[str, Any]], share: float, rng: np.random.Generator) -> tuple[float | None, int]:
    """Fit on all but a random share of the (p, x) cells; median |error| / actual on the held-out requests."""
    cells = sorted({(r["p_nominal"], r["x_nominal"]) for r in records})
    n_out = max(1, round(share * len(cells)))
    if len(cells) - n_out < 3:
        return None, 0
    out = {cells[i] for i in rng.choice(len(cells), n_out, replace=False)}
    train = [r for r in records if (r["p_nominal"], r["x_nominal"]) not in out]
    test = [r for r in records if (r["p_nominal"], r["x_nominal"]) in out]
    if len({r["p"] for r in train}) < 2:
        return None, 0
    lin = polyfit([r["p"] for r in train], [r["ttft_s"] for r in train], 1)
    fit = {"ttft_intercept_s": lin.coef[0], "ttft_per_prompt_token_s": lin.coef[1], "per_token_s": _k_of(train)}
    errors = [abs(predict(fit, r["p"], r["x"]) - r["e2e_s"]) / r["e2e_s"] for r in test if r["e2e_s"] > 0]
    return (float(np.median(errors)) if errors else None), len(out)


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
) -> dict[str, Any]:
    """summary.json of a latency run: the fit, the what-if table and the roofline comparison."""
    fit = fit_latency(records, seed=seed)
    summary: dict[str, Any] = {
        "n_requests": len(records),
        "n_failed": n_failed,
        "fit": fit,
        "what_if": what_if(fit, what_if_prompts, what_if_answers, cot, max(r["p"] for r in records)),
        "cot_tokens": cot,
        "hardware": hardware,
    }
    params, bw, tflops = hardware.get("params"), hardware.get("mem_bandwidth_gbs"), hardware.get("peak_tflops")
    if params and bw and tflops:
        floor = roofline(params, hardware.get("bytes_per_param", 2.0), fit["median_prompt_tokens"], bw, tflops)
        b_med = predict(fit, fit["median_prompt_tokens"], 1)
        summary["roofline"] = {
            **floor,
            "k_over_floor": fit["per_token_s"] / floor["k_min_s"],
            "b_over_floor": b_med / floor["b_min_s"],
        }
    else:
        summary["roofline"] = {
            "status": "hardware peak numbers unknown (CPU or unlisted GPU): pass "
            "--mem-bandwidth-gbs and --peak-tflops to compare with the floor"
        }
    return summary
