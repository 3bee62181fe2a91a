"""Latency under load: a stub server with known queueing (`slots` served at once, each slowed by `share` per other
request in service, the rest waiting FIFO) gives b and k per level by construction; the sweep must recover them,
find the knee where requests only queue, and price the what-if points. The hinge TTFT model against a stub whose
TTFT is flat, then linear. Bad input is in tests/test_bad_inputs.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import sftdebug
from stub_openai import StubServer

from sftdebug.engines.config import EngineConfig
from sftdebug.latency import LatencyConfig, run
from sftdebug.latency.load import knee, level_stats, priced

B0, B1, K, SLOTS, SHARE = 0.1, 0.0004, 0.005, 4, 0.1
PROMPTS, OUTPUTS = (16, 128, 256), (1, 8, 16)
GRID = ["--prompt-lens", "16,128,256", "--output-lens", "1,8,16", "--repeats", "2", "--warmup", "1"]


def _known(level: int) -> tuple[float, float, float, float]:
    """The stub's b0, b1, k and output tokens/s with `level` requests kept in flight (see tests/stub_openai.py):
    up to SLOTS all are served, slowed by SHARE per other one; beyond, the server stays at SLOTS and the rest wait."""
    served = min(level, SLOTS)
    slow = 1 + SHARE * (served - 1)
    mean_p, mean_x = sum(PROMPTS) / 3, sum(OUTPUTS) / 3
    service = slow * (B0 + B1 * mean_p + K * (mean_x - 1))  # mean seconds in service of a grid request
    return B0 * slow, B1 * slow, K * slow, served * mean_x / service


@pytest.mark.slow
def test_sweep_recovers_the_stubs_known_b_and_k_per_level_and_finds_the_knee(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with StubServer(model="stub", b0=B0, b1=B1, k=K, slots=SLOTS, share=SHARE) as stub:
        argv = ["latency", "--engine", "openai", "--endpoint", stub.url, "--model", "stub", *GRID, "--out", str(out)]
        first = sftdebug(*argv, "--concurrency", "2")
        assert first.returncode == 0, first.stderr
        proc = sftdebug(*argv, "--concurrency", "1,2,4,8", "--price-per-hour", "3.6", "--resume")
        assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    levels = {lv["concurrency"]: lv for lv in summary["levels"]}
    assert sorted(levels) == [1, 2, 4, 8] and summary["fit"] == levels[1]["fit"], "the top-level fit is level 1's"
    for level in (1, 2, 4):  # every request served at once: b0, b1, k as the stub's model says
        b0, b1, k, tput = _known(level)
        fit = levels[level]["fit"]
        assert fit["ttft_model"] == "linear"
        assert fit["ttft_intercept_s"] == pytest.approx(b0, rel=0.1), level
        assert fit["ttft_per_prompt_token_s"] == pytest.approx(b1, rel=0.1), level
        assert fit["per_token_s"] == pytest.approx(k, rel=0.1), level
        assert levels[level]["throughput_tok_s"] == pytest.approx(tput, rel=0.1), level
    # 8 in flight, 4 served: tokens come at the 4-slot pace, throughput stays there, the extra requests only wait
    _, _, k4, tput4 = _known(SLOTS)
    assert levels[8]["fit"]["per_token_s"] == pytest.approx(k4, rel=0.1)
    assert levels[8]["throughput_tok_s"] == pytest.approx(tput4, rel=0.1)
    assert levels[8]["p50_ttft_s"] > 1.5 * levels[4]["p50_ttft_s"]
    assert summary["knee"] == 8
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    keys = [r["key"] for r in records]
    assert len(keys) == len(set(keys)) == 4 * 18, "the resumed run measured only the levels it lacked"
    assert {r["concurrency"] for r in records if r["key"].startswith("c4-")} == {4}
    # prices: a request at level L costs $3.6/h · t / L, i.e. t / 1000 / L dollars
    row = levels[4]["what_if"][0]
    assert row["usd_per_request"] == pytest.approx(row["predicted_s"] / 1000 / 4)
    page = (out / "report.html").read_text()
    assert "Under load" in page and "Knee at 8 requests in flight" in page and "Cost at $3.6 per hour" in page
    assert "under load" in proc.stdout and "cost at $3.6/hour" in proc.stdout


def _ttft_model(tmp_path: Path, flat: int) -> dict:
    with StubServer(model="stub", b0=0.05, b1=0.0004, k=0.002, flat=flat) as stub:
        result = run(
            LatencyConfig(
                model="stub",
                prompt_lens=(16, 64, 128, 256, 512, 768),
                output_lens=(1, 4),
                repeats=2,
                warmup=1,
                concurrency=(4,),
                engine=EngineConfig(engine="openai", endpoint=stub.url, concurrency=1),
                out=str(tmp_path / f"flat{flat}"),
            )
        )
    fit: dict = result.summary["fit"]
    return fit


@pytest.mark.slow
def test_hinge_is_chosen_where_ttft_is_flat_then_linear_and_linear_where_it_is_linear(tmp_path: Path) -> None:
    hinge = _ttft_model(tmp_path, flat=200)
    assert hinge["ttft_model"] == "hinge" and hinge["ttft_bic"]["hinge"] < hinge["ttft_bic"]["linear"]
    assert hinge["ttft_hinge"]["p0"] == pytest.approx(200, rel=0.15)
    assert hinge["ttft_hinge"]["b1"] == pytest.approx(0.0004, rel=0.1)
    assert hinge["holdout_mape"] < 0.1
    linear = _ttft_model(tmp_path, flat=0)
    assert linear["ttft_model"] == "linear" and linear["ttft_bic"]["linear"] < linear["ttft_bic"]["hinge"]
    assert linear["ttft_per_prompt_token_s"] == pytest.approx(0.0004, rel=0.1)


def test_price_arithmetic() -> None:
    rows = [{"prompt_tokens": 256, "answer_tokens": 100, "predicted_s": 2.0, "with_cot_s": 6.0, "extrapolated": False}]
    [one] = priced(rows, level=1, price_per_hour=3.6, cot=500)
    assert one["usd_per_request"] == pytest.approx(0.002)  # $3.6/h = $0.001/s, 2 s
    assert one["usd_per_request_with_cot"] == pytest.approx(0.006)
    assert one["usd_per_1m_output_tokens"] == pytest.approx(0.002 / 100 * 1e6)
    assert one["usd_per_1m_output_tokens_with_cot"] == pytest.approx(0.006 / 600 * 1e6)
    [shared] = priced(rows, level=8, price_per_hour=3.6, cot=500)
    assert shared["usd_per_request"] == pytest.approx(0.002 / 8), "8 requests share the server's hour"


def _level(level: int, tput: float, p50: float) -> dict:
    return {"concurrency": level, "throughput_tok_s": tput, "p50_e2e_s": p50}


@pytest.mark.parametrize(
    "levels,expected",
    [
        ([_level(1, 100, 1.0), _level(4, 350, 1.1), _level(16, 360, 4.0)], 16),  # latency ×3.6, throughput +3%
        ([_level(1, 100, 1.0), _level(4, 350, 1.1), _level(16, 1200, 1.3)], None),  # still scaling
        ([_level(1, 100, 1.0), _level(4, 105, 1.2)], None),  # flat throughput but latency only +20%
        ([_level(1, 100, 1.0), _level(4, 108, 1.5), _level(8, 300, 9.0)], 4),  # the first such level counts
    ],
)
def test_knee(levels: list[dict], expected: int | None) -> None:
    assert knee(levels) == expected


def test_throughput_is_littles_law_over_the_levels_requests() -> None:
    recs = [{"x": 10, "e2e_s": 1.0, "ttft_s": 0.1}, {"x": 30, "e2e_s": 3.0, "ttft_s": 0.3}]
    stats = level_stats(recs, level=4)
    assert stats["throughput_tok_s"] == pytest.approx(4 * 40 / 4.0)  # 4 in flight, 40 tokens per 4 s of requests
    assert stats["p50_e2e_s"] == pytest.approx(2.0)


class _CountingEngine:
    """A fake in-process engine (no tokenizer, like an endpoint without --tokenizer) that counts the requests it
    holds at once, as vLLM's AsyncLLM counts concurrent submissions."""

    tokenizer = None

    def __init__(self) -> None:
        import threading

        self.lock, self.now, self.peak, self.calls = threading.Lock(), 0, 0, 0

    def generate(self, requests: list) -> list:
        import time

        from sftdebug.engines.base import Completion, Timing

        [req] = requests  # the sweep submits one request per call: in flight = concurrent calls
        with self.lock:
            self.now, self.calls = self.now + 1, self.calls + 1
            self.peak = max(self.peak, self.now)
        x = req.params.max_new_tokens
        time.sleep(0.002 * x)
        with self.lock:
            self.now -= 1
        timing = Timing(ttft_s=0.002, e2e_s=0.002 * x, token_times_s=tuple(0.002 * (i + 1) for i in range(x)))
        return [[Completion("", (), len(req.prompt.split()), "length", timing=timing, n_tokens=x)]]


def test_the_sweep_keeps_the_level_in_flight_with_an_untimed_lead_and_trail(tmp_path: Path) -> None:
    from sftdebug.core.runs import RunFolder
    from sftdebug.latency.measure import SweepConfig, run_sweep

    engine = _CountingEngine()
    cfg = SweepConfig(prompt_lens=(4, 8), output_lens=(3, 5, 7), repeats=2, warmup=0, concurrency=(1, 4))
    with RunFolder.open(tmp_path, "latency", {"model": "fake"}) as folder:
        records = run_sweep(engine, cfg, folder, lambda *a: None)
    assert len(records) == 24 and sorted(r["concurrency"] for r in records) == [1] * 12 + [4] * 12
    assert engine.peak == 4, "never more than the level in flight, and the level reached"
    assert engine.calls == 12 + (4 + 12 + 3), "level 4: 4 untimed requests lead the 12 timed ones, 3 trail them"
    assert {r["key"] for r in records if r["concurrency"] == 4} == {f"c4-{r['key']}" for r in records[:12]}
