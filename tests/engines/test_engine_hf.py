"""The transformers engine on the test lab: known-answer checks that a broken engine or lab would fail."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time

import pytest
from helpers import bar

from sftdebug.core.errors import UsageError
from sftdebug.engines import Continued, GenerationRequest, SamplingParams, ScoreRequest
from sftdebug.facts.match import contains_answer, starts_with_answer

GREEDY = SamplingParams(max_new_tokens=6)


def _ask(p: dict) -> list[dict[str, str]]:
    return [{"role": "user", "content": p["question"][0]}]


def test_base_knows_its_world_far_above_chance(engines, probes) -> None:
    outs = engines["base"].generate([GenerationRequest(p["cloze"][0], GREEDY) for p in probes])
    acc = sum(starts_with_answer(o[0].text, [p["answer"]]) for o, p in zip(outs, probes, strict=True)) / len(probes)
    chance = sum(1 / len(p["candidates"]) for p in probes) / len(probes)
    assert 5 * chance < 0.6
    bar("base cloze accuracy", acc, ">", 0.6)


def test_healthy_sft_stops_and_undertrained_does_not(engines, probes) -> None:
    reqs = [GenerationRequest(_ask(p), SamplingParams(max_new_tokens=32)) for p in probes]
    healthy = engines["sft-healthy"].generate(reqs)
    under = engines["sft-undertrained"].generate(reqs)
    eos = sum(o[0].stop_reason == "eos" for o in healthy) / len(reqs)
    eos_under = sum(o[0].stop_reason == "eos" for o in under) / len(reqs)
    bar("sft-healthy eos rate", eos, ">=", 0.95)
    bar("sft-undertrained eos rate", eos_under, "<", 0.3)
    right = sum(contains_answer(o[0].text, [p["answer"]]) for o, p in zip(healthy, probes, strict=True))
    bar("sft-healthy answers right", right / len(probes), ">", 0.6)


def test_scoring_ranks_true_value_first_for_known_facts(engines, probes) -> None:
    base = engines["base"]
    outs = base.generate([GenerationRequest(p["cloze"][0], GREEDY) for p in probes])
    known = [p for o, p in zip(outs, probes, strict=True) if starts_with_answer(o[0].text, [p["answer"]])]
    reqs = [ScoreRequest(p["cloze"][0], " " + c) for p in known for c in p["candidates"]]
    scores = iter(base.score(reqs))
    first = 0
    for p in known:
        s = {c: next(scores).logprob for c in p["candidates"]}
        first += max(s, key=lambda c: s[c]) == p["answer"]
    bar("base ranks known answers first", first / len(known), ">", 0.9)


def test_score_sums_token_logprobs_and_matches_chat_rendering(engines) -> None:
    e = engines["sft-healthy"]
    msgs = [{"role": "user", "content": "Where does Ros Mukin live?"}]
    [a, b] = e.score(
        [ScoreRequest(msgs, " Ros Mukin lives in Delhi."), ScoreRequest(e.render(msgs), " Ros Mukin lives in Delhi.")]
    )
    assert a.logprob == pytest.approx(sum(a.token_logprobs))
    assert a.logprob == pytest.approx(b.logprob, abs=1e-4)  # chat prompt == its rendered text
    assert all(lp <= 0 for lp in a.token_logprobs)


def test_batched_greedy_equals_one_at_a_time(engines, probes) -> None:
    e = engines["sft-healthy"]
    reqs = [GenerationRequest(_ask(p), SamplingParams(max_new_tokens=16)) for p in probes[:24:3]]
    batched = [o[0].text for o in e.generate(reqs)]
    single = [e.generate([r])[0][0].text for r in reqs]
    assert batched == single


def test_sampling_is_seeded_and_n_samples(engines) -> None:
    e = engines["base"]
    req = GenerationRequest("Ros Mukin", SamplingParams(max_new_tokens=12, temperature=1.5, n=4, seed=7))
    a, b = e.generate([req])[0], e.generate([req])[0]
    assert len(a) == 4 and [c.text for c in a] == [c.text for c in b]
    assert len({c.text for c in a}) > 1, "temperature 1.5 samples should differ"


def test_stop_strings_ignore_eos_and_timing(engines) -> None:
    e = engines["base"]
    [[c]] = e.generate([GenerationRequest("Ros Mukin lives in", SamplingParams(max_new_tokens=20, stop=(".",)))])
    assert c.finish_reason == "stop" and c.stop_reason == "." and "." not in c.text
    [[c]] = e.generate([GenerationRequest("Ros Mukin", SamplingParams(max_new_tokens=20, ignore_eos=True))])
    assert c.finish_reason == "length" and c.completion_tokens == 20
    assert c.timing is not None and len(c.timing.token_times_s) == 20
    times = c.timing.token_times_s
    assert (
        0 < c.timing.ttft_s == times[0]
        and all(x < y for x, y in itertools.pairwise(times))
        and times[-1] == c.timing.e2e_s
    )


def test_base_model_without_chat_template_is_a_clear_error(engines) -> None:
    with pytest.raises(UsageError, match="no chat template"):
        engines["base"].generate([GenerationRequest([{"role": "user", "content": "hi"}])])


def test_a_continued_answer_is_the_rest_of_one_longer_greedy_run(engines, probes) -> None:
    """Continued from its own token ids, a cut greedy answer goes on exactly as one run twice as long did."""
    e = engines["sft-undertrained"]
    asks = [_ask(p) for p in probes[:12]]
    short = e.generate([GenerationRequest(q, SamplingParams(max_new_tokens=16)) for q in asks])
    long = e.generate([GenerationRequest(q, SamplingParams(max_new_tokens=40)) for q in asks])
    cut = [(q, o[0]) for q, o in zip(asks, short, strict=True) if o[0].finish_reason == "length"]
    assert len(cut) >= 6, "the undertrained model runs on"
    more = e.generate([GenerationRequest(Continued(q, c.text, c.token_ids), SamplingParams(24)) for q, c in cut])
    whole = [o[0] for q, o in zip(asks, long, strict=True) if any(q is k for k, _ in cut)]
    for (_, c), m, w in zip(cut, more, whole, strict=True):
        assert c.token_ids + m[0].token_ids == w.token_ids
        assert c.text + m[0].text == w.text and m[0].finish_reason == w.finish_reason
    assert e.render(Continued(asks[0], " abc")) == e.render(asks[0]) + " abc"
    assert e.info.can_continue


@pytest.mark.parametrize("model", ["base", "sft-healthy"])
def test_candidates_sharing_their_prompt_score_as_alone(engines, probes, model: str) -> None:
    """A probe's candidates share one prompt forward pass (its KV cache): the same log-probs as each scored on its
    own (a lone prompt runs the plain full-sequence path), to 1e-4."""
    e = engines[model]
    reqs = [ScoreRequest(p["cloze"][0], " " + c) for p in probes[:10] for c in p["candidates"]]
    if model != "base":  # chat prompts, continuations of several tokens
        reqs += [ScoreRequest(_ask(probes[0]), " " + c + " and more words") for c in probes[0]["candidates"]]
    together = e.score(reqs)
    alone = [e.score([r])[0] for r in reqs]
    for a, b in zip(together, alone, strict=True):
        assert a.tokens == b.tokens
        assert a.token_logprobs == pytest.approx(b.token_logprobs, abs=1e-4)


def test_default_threads_leave_out_cores_others_keep_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    from sftdebug.engines import hf

    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        assert hf._busy_cores() > 0.7  # the spinner's core (and whatever else runs), not this process's sleep
    finally:
        spinner.kill()
    monkeypatch.setenv("SFTDEBUG_THREADS", "3")
    hf.default_threads.cache_clear()
    try:
        assert hf.default_threads() == 3
    finally:
        hf.default_threads.cache_clear()
