"""The sequential eos recheck: its stopping rule, its sample sizes, and the pipeline around it on scripted engines
(cut answers continued, not regenerated; only as many as the estimate needs)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from sftdebug.core.runs import RunFolder
from sftdebug.engines.base import Completion, Continued, EngineInfo, GenerationRequest, Prompt, Score, ScoreRequest
from sftdebug.facts.probes import Probe
from sftdebug.hallucination.phases import HallucinationSettings, run_hallucination
from sftdebug.hallucination.recheck import STOP_SHARE, recheck_settled, recheck_sizes
from sftdebug.hallucination.verdicts import make_record, summarize

S, L = "stop", "length"


@pytest.mark.parametrize(
    ("finishes", "settled"),
    [
        ([], False),  # nothing known yet
        ([S] * 8, True),  # 8/8 stopped: interval (0.68, 1]
        ([L] * 8, True),  # 0/8: [0, 0.32)
        ([S] * 7 + [L], True),  # 7/8: (0.53, 0.98) still clear of 0.5
        ([S] * 6 + [L] * 2, False),  # 6/8: (0.41, 0.93) straddles 0.5
        ([S] * 4 + [L] * 4, False),
        ([S] * 22 + [L] * 10, True),  # 22/32: (0.52, 0.82)
        ([S] * 16 + [L] * 16, False),  # a coin: never clear, stops at the cap
        ([L] * 30 + [S] * 2, True),
    ],
)
def test_recheck_stops_once_the_interval_clears_the_line(finishes: list[str], settled: bool) -> None:
    assert recheck_settled(finishes) is settled


@pytest.mark.parametrize(
    ("n_capped", "batch", "most", "sizes"),
    [
        (0, 8, 32, []),
        (5, 8, 32, [5]),
        (8, 8, 32, [8]),
        (20, 8, 32, [8, 16, 20]),
        (100, 8, 32, [8, 16, 32]),
        (100, 8, 30, [8, 16, 30]),
        (100, 8, 100, [8, 16, 32, 64, 100]),
        (100, 8, 0, []),  # eos_recheck=0 switches the recheck off
    ],
)
def test_recheck_sizes(n_capped: int, batch: int, most: int, sizes: list[int]) -> None:
    assert recheck_sizes(n_capped, batch, most) == sizes


def test_the_rule_and_the_summary_draw_the_same_line() -> None:
    """recheck.STOP_SHARE is the share at which the summary stops saying "cannot stop" (verdicts.warnings)."""
    p = Probe("jp", ("The capital of Japan is",), ("What is the capital of Japan?",), "Tokyo", (), ("Tokyo", "Kyoto"))
    rec = make_record(p, {"greedy": [" Tokyo"], "finish": [S]}, {"greedy": ["Tokyo is a city"], "finish": [L]})
    assert STOP_SHARE == 0.5
    at = summarize([rec] * 10, rechecks=[S] * 10 + [L] * 10)["warnings"]
    below = summarize([rec] * 10, rechecks=[S] * 9 + [L] * 11)["warnings"]
    assert any("its answers are long" in w for w in at)
    assert any("cannot stop" in w for w in below)


class _Chatty:
    """A scripted SFT model whose first answers are all cut at the budget (ids 1..budget); a continued answer
    ends with eos when `stops(probe question)` says so. Records the requests it was given."""

    def __init__(self, stops, can_continue: bool = True) -> None:
        self.name, self.tokenizer, self.stops = "chatty", None, stops
        self.info = EngineInfo(can_continue=can_continue)
        self.requests: list[GenerationRequest] = []

    def render(self, prompt: Prompt) -> str:
        return str(prompt)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        self.requests += requests
        out = []
        for r in requests:
            q = r.prompt.prompt if isinstance(r.prompt, Continued) else r.prompt
            text = q[-1]["content"] if isinstance(q, list) else q
            n = r.params.max_new_tokens
            if isinstance(r.prompt, Continued) or r.params.max_new_tokens > 64:  # the recheck
                stop = self.stops(text)
                out.append([Completion(" more.", (7,) * (3 if stop else n), 5, S if stop else L)])
            else:
                out.append([Completion(f" {text} again", tuple(range(1, n + 1)), 5, L)])
        return out

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        return [Score(-1.0, (-1.0,), ("x",)) for _ in requests]

    def close(self) -> None:
        pass


class _Base(_Chatty):
    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        return [[Completion(" x", (1,), 3, S)] for _ in requests]


def _probes(n: int) -> list[Probe]:
    return [Probe(f"p{i}", (f"Fact {i} is",), (f"q{i}",), "x", (), ("x", "y")) for i in range(n)]


def _run(tmp_path: Path, sft: _Chatty, n: int = 60) -> tuple[dict, list[dict]]:
    with RunFolder.open(tmp_path, "hallucination", {"base": "b", "sft": "s"}) as run:
        cfg = HallucinationSettings(base_prompt="zero-shot")
        s = run_hallucination(lambda: _Base(lambda q: True), lambda: sft, _probes(n), cfg, run, lambda *a: None)
    eos = [json.loads(x) for x in (tmp_path / "eos.jsonl").read_text(encoding="utf-8").splitlines()]
    return s["sft_stopping"], eos


@pytest.mark.parametrize(("stops", "n_rechecked", "settled"), [(True, 8, True), (False, 8, True)])
def test_a_clear_model_is_rechecked_once(tmp_path: Path, stops: bool, n_rechecked: int, settled: bool) -> None:
    sft = _Chatty(lambda q: stops)
    stopping, eos = _run(tmp_path, sft)
    assert stopping["n_cut_at_budget"] == 60 and stopping["n_rechecked"] == n_rechecked
    assert stopping["recheck_rule"] == {"batch": 8, "most": 32, "threshold": 0.5, "settled": settled}
    assert stopping["recheck_stop_ci95"][0 if stops else 1] == pytest.approx(0.676 if stops else 0.324, abs=1e-3)
    cont = [r for r in sft.requests if isinstance(r.prompt, Continued)]
    assert len(cont) == 8, "continued, not regenerated, and only one batch of 8"
    # continued from the answer's own ids, for the remaining 4x64 - 64 tokens; `tokens` counts the whole answer
    assert all(r.prompt.answer_ids == tuple(range(1, 65)) and r.params.max_new_tokens == 192 for r in cont)
    assert all(r.prompt.answer.endswith(" again") for r in cont)
    assert {r["tokens"] for r in eos} == ({64 + 3} if stops else {256})
    assert all(r["tail"].endswith(" again more.") for r in eos)


def test_a_coin_is_rechecked_up_to_the_cap(tmp_path: Path) -> None:
    stopping, eos = _run(tmp_path, _Chatty(lambda q: int(q[1:]) % 2 == 0))
    assert stopping["n_rechecked"] == 32 and len(eos) == 32
    assert stopping["recheck_rule"]["settled"] is False


def test_an_engine_that_cannot_continue_regenerates(tmp_path: Path) -> None:
    sft = _Chatty(lambda q: True, can_continue=False)
    stopping, eos = _run(tmp_path, sft)
    assert stopping["n_rechecked"] == 8
    assert not any(isinstance(r.prompt, Continued) for r in sft.requests)
    assert [r.params.max_new_tokens for r in sft.requests].count(256) == 8
    assert {r["tokens"] for r in eos} == {3}
