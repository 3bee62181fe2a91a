"""Latency: the fit maths on synthetic timings, and the whole command against a stub with known b0, b1, k."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import sftdebug
from stub_openai import StubServer

from sftdebug.latency.fit import fit_latency, predict, roofline, what_if


def synthetic(b0: float, b1: float, k: float, b2: float = 0.0, noise: float = 0.0, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    recs = []
    for p in (16, 64, 256, 512, 1024):
        for x in (1, 16, 64):
            for r in range(4):
                ttft = (b0 + b1 * p + b2 * p * p) * (1 + noise * rng.standard_normal())
                itl = list(k * (1 + noise * rng.standard_normal(x - 1)))
                recs.append(
                    {
                        "p": p,
                        "x": x,
                        "p_nominal": p,
                        "x_nominal": x,
                        "repeat": r,
                        "ttft_s": ttft,
                        "e2e_s": ttft + sum(itl),
                        "itl_s": itl,
                    }
                )
    return recs


def test_fit_recovers_known_parameters_with_intervals() -> None:
    fit = fit_latency(synthetic(0.05, 0.0002, 0.01, noise=0.02))
    assert fit["ttft_intercept_s"] == pytest.approx(0.05, rel=0.05)
    assert fit["ttft_per_prompt_token_s"] == pytest.approx(0.0002, rel=0.05)
    assert fit["per_token_s"] == pytest.approx(0.01, rel=0.02)
    for key in ("ttft_intercept_s", "ttft_per_prompt_token_s", "per_token_s"):
        lo, hi = fit[f"{key}_ci95"]
        assert lo < fit[key] < hi
    assert fit["ttft_model"] == "linear" and fit["r2_ttft"] > 0.95
    assert fit["holdout_mape"] < 0.05 and fit["holdout_cells"] >= 1
    assert fit["b_over_k"] == pytest.approx((0.05 + 0.0002 * 256) / 0.01, rel=0.05)


def test_exact_data_gives_exact_fit() -> None:
    fit = fit_latency(synthetic(0.02, 0.001, 0.005))
    assert fit["ttft_intercept_s"] == pytest.approx(0.02)
    assert fit["per_token_s"] == pytest.approx(0.005)
    assert fit["r2_ttft"] == pytest.approx(1.0)
    assert predict(fit, 100, 11) == pytest.approx(0.02 + 0.1 + 0.05)


def test_quadratic_prefill_is_detected_only_when_there() -> None:
    assert fit_latency(synthetic(0.01, 0.0001, 0.01, b2=2e-7, noise=0.01))["ttft_model"] == "quadratic"
    assert fit_latency(synthetic(0.01, 0.0001, 0.01, noise=0.05))["ttft_model"] == "linear"


def test_what_if_prices_chain_of_thought_and_marks_extrapolation() -> None:
    fit = fit_latency(synthetic(0.02, 0.001, 0.005))
    [row] = what_if(fit, [100], [10], cot=200, measured_max_p=64)
    assert row["cot_extra_s"] == pytest.approx(200 * 0.005)
    assert row["extrapolated"] is True


def test_roofline_floors() -> None:
    floor = roofline(params=7_000_000_000, bytes_per_param=2, prompt_tokens=1000, bandwidth_gbs=2000, peak_tflops=300)
    assert floor["k_min_s"] == pytest.approx(0.007)
    assert floor["b_min_s"] == pytest.approx(2 * 7e9 * 1000 / 300e12)


@pytest.mark.slow
def test_command_recovers_stub_parameters_within_5_percent(tmp_path: Path) -> None:
    b0, b1, k = 0.1, 0.0004, 0.008
    with StubServer(model="stub", b0=b0, b1=b1, k=k) as stub:
        proc = sftdebug(
            "latency",
            "--engine",
            "openai",
            "--endpoint",
            stub.url,
            "--model",
            "stub",
            "--prompt-lens",
            "16,64,256,512",
            "--output-lens",
            "1,8,32",
            "--repeats",
            "3",
            "--warmup",
            "1",
            "--out",
            str(tmp_path),
        )
        assert proc.returncode == 0, proc.stderr
        n_sent = len(stub.requests)
    fit = json.loads((tmp_path / "summary.json").read_text())["fit"]
    assert fit["ttft_intercept_s"] == pytest.approx(b0, rel=0.05)
    assert fit["ttft_per_prompt_token_s"] == pytest.approx(b1, rel=0.05)
    assert fit["per_token_s"] == pytest.approx(k, rel=0.05)
    records = [json.loads(x) for x in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert len(records) == 36 and n_sent == 37, "warm-up requests are sent but never recorded"
    assert {r["p"] for r in records} == {16, 64, 256, 512}, "the server's reported prompt tokens are used"
    assert all(len(r["itl_s"]) == r["x"] - 1 for r in records)
    page = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in page and "What if" in page


def test_one_straggler_is_an_outlier_not_a_slope() -> None:
    """A 1-second hiccup among 60 requests (a shared machine): least squares would tilt b1; the robust fit
    keeps it within 2% and counts the straggler as the one outlier."""
    clean = synthetic(0.15, 0.0004, 0.012, noise=0.01)
    hit = [dict(r) for r in clean]
    hit[3] = {**hit[3], "key": "p16-x64-r3", "ttft_s": hit[3]["ttft_s"] + 1.0, "e2e_s": hit[3]["e2e_s"] + 1.0}
    fit = fit_latency(hit)
    assert fit["ttft_per_prompt_token_s"] == pytest.approx(0.0004, rel=0.02)
    assert fit["n_outliers"] == 1 and fit["outlier_keys"] == ["p16-x64-r3"]
    assert fit["trustworthy"], fit["trust_reasons"]
    from sftdebug.latency.robust import polyfit

    lsq = polyfit([r["p"] for r in hit], [r["ttft_s"] for r in hit], 1)
    assert abs(lsq.coef[1] / 0.0004 - 1) > 0.05, "least squares is moved by the straggler (why Huber)"


def test_a_toy_model_fit_says_it_is_not_trustworthy() -> None:
    """No prefill cost to measure (b1 = 0) and noisy TTFT: the fit must say so instead of printing numbers."""
    fit = fit_latency(synthetic(0.01, 0.0, 0.004, noise=0.3, seed=3))
    assert not fit["trustworthy"]
    assert any("contains 0" in r for r in fit["trust_reasons"])


def test_band_contains_the_chosen_curve() -> None:
    from sftdebug.latency.fit import ttft_of

    fit = fit_latency(synthetic(0.01, 0.0001, 0.01, b2=2e-7, noise=0.01))
    assert fit["ttft_model"] == "quadratic" and len(fit["ttft_coef"]) == 3
    band = fit["ttft_band"]
    for p, lo, hi in zip(band["p"], band["lo"], band["hi"], strict=True):
        assert lo <= ttft_of(fit, p) <= hi
    assert predict(fit, 1000, 1) == pytest.approx(0.01 + 0.1 + 0.2, rel=0.05), "predictions use the quadratic"


@pytest.mark.slow
def test_stub_hiccup_barely_moves_the_fit(tmp_path: Path) -> None:
    b0, b1, k = 0.15, 0.0004, 0.012
    with StubServer(model="stub", b0=b0, b1=b1, k=k) as stub:
        stub.faults.extend([None, None, None, None, None, "hiccup"])  # warm-up, then the 5th timed request
        proc = sftdebug(
            "latency", "--engine", "openai", "--endpoint", stub.url, "--model", "stub",
            "--prompt-lens", "16,64,256,512", "--output-lens", "1,8,32", "--repeats", "3", "--warmup", "1",
            "--out", str(tmp_path),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    fit = json.loads((tmp_path / "summary.json").read_text())["fit"]
    assert fit["ttft_per_prompt_token_s"] == pytest.approx(b1, rel=0.1)
    assert fit["n_outliers"] >= 1


def test_command_on_the_lab_model_and_bad_lengths(lab: Path, tmp_path: Path) -> None:
    proc = sftdebug(
        "latency",
        "--model",
        str(lab / "base"),
        "--prompt-lens",
        "8,32,64,96",
        "--output-lens",
        "1,8,24",
        "--repeats",
        "2",
        "--warmup",
        "1",
        "--out",
        str(tmp_path / "ok"),
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "ok" / "summary.json").read_text())
    fit = summary["fit"]
    assert fit["per_token_s"] > 0 and fit["ttft_intercept_s"] > 0 and summary["n_requests"] == 24
    assert {"ttft_per_prompt_token_s", "r2_ttft", "holdout_mape", "b_over_k"} <= set(fit)
    assert "status" in summary["roofline"], "CPU: the roofline says the hardware numbers are unknown"
    bad = sftdebug("latency", "--model", str(lab / "base"), "--prompt-lens", "1024", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "exceed the model's 256 positions" in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_baseline_comparison_finds_a_slowdown_and_not_noise() -> None:
    from sftdebug.latency.baseline import compare

    base = fit_latency(synthetic(0.05, 0.0004, 0.010, noise=0.02, seed=1))
    same = fit_latency(synthetic(0.05, 0.0004, 0.010, noise=0.02, seed=2))
    slow = fit_latency(synthetic(0.05, 0.0004, 0.013, noise=0.02, seed=3))
    steady = compare(same, base, [256, 1024], [32, 256])
    assert abs(steady["regression"]) < 0.05 and not steady["significant"]
    worse = compare(slow, base, [256, 1024], [32, 256])
    assert worse["regression"] == pytest.approx(0.3 * 0.01 * 255 / (0.05 + 0.0004 * 256 + 0.01 * 255), rel=0.15)
    assert worse["significant"] and worse["regression_ci95"][0] > 0
    assert len(worse["cells"]) == 4


@pytest.mark.slow
def test_baseline_gate_exits_3_on_a_regression(tmp_path: Path) -> None:
    grid = ["--prompt-lens", "16,64,256", "--output-lens", "1,8,24", "--repeats", "2", "--warmup", "1"]
    wi = ["--what-if-prompts", "64,256", "--what-if-answers", "8,24"]
    runs = {}
    for name, k in (("base", 0.004), ("slower", 0.008)):
        with StubServer(model="stub", b0=0.02, b1=0.0002, k=k) as stub:
            argv = ["latency", "--engine", "openai", "--endpoint", stub.url, "--model", "stub", *grid, *wi]
            extra = ["--baseline", str(runs["base"]), "--fail-above", "regression=0.1"] if runs else []
            runs[name] = tmp_path / name
            proc = sftdebug(*argv, *extra, "--out", str(runs[name]))
        assert proc.returncode == (3 if extra else 0), proc.stderr
    summary = json.loads((runs["slower"] / "summary.json").read_text())
    assert summary["regression"] > 0.3 and summary["baseline"]["significant"]
    assert "gate failed: regression" in proc.stderr
    assert "Against the baseline" in (runs["slower"] / "report.html").read_text()
