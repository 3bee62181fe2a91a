"""The SFT eos recheck: are the answers cut at --max-new-tokens long answers, or does the model never stop?

A seeded sample of the cut answers is given RECHECK_FACTOR × the budget. Engines that can (`info.can_continue`)
continue each answer from where it was cut, from its own token ids, so only the missing tokens are generated:
greedy, that is what one longer run would have produced. Others regenerate it from scratch. The sample grows
(8, 16, 32 answers) until the Wilson 95% interval of the share that ended with eos lies on one side of STOP_SHARE
(the line the summary draws between "long answers" and "cannot stop"), or until `most` answers are rechecked.

    sftdebug hallucination --base reports/lab-test/base --sft reports/lab-test/sft-undertrained  # "sft eos recheck"
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from sftdebug.core.stats import wilson
from sftdebug.engines.base import Completion, Continued, Engine, GenerationRequest, Message, SamplingParams
from sftdebug.facts.probes import Probe

RECHECK_FACTOR = 4
STOP_SHARE = 0.5  # at or above: the model can stop, its answers are long (verdicts.warnings draws the same line)


def recheck_order(capped: Sequence[Probe]) -> list[Probe]:
    """The cut answers in a seeded order: any prefix is a fair sample, and a resumed run takes the same one."""
    return sorted(capped, key=lambda p: hashlib.sha1(p.id.encode()).hexdigest())


def recheck_settled(finishes: Sequence[str], threshold: float = STOP_SHARE) -> bool:
    """True when the Wilson 95% interval of the share of `finishes` that stopped lies wholly on one side of
    `threshold`: more answers would not change the conclusion."""
    ci = wilson(sum(f == "stop" for f in finishes), len(finishes))
    return ci is not None and (ci[0] > threshold or ci[1] < threshold)


def recheck_sizes(n_capped: int, first: int, most: int) -> list[int]:
    """The sample sizes tried in turn: `first`, then doubled (8, 16, 32), up to min(n_capped, most). Doubling, not
    steps of `first`: an answer that stops early still waits for its batch's longest, so a few large batches cost
    less than many small ones when the share is not clear (a model near 50%)."""
    top, k = min(n_capped, most), max(1, first)
    sizes: list[int] = []
    while top > 0 and (not sizes or sizes[-1] < top):
        sizes.append(min(k, top))
        k *= 2
    return sizes


def recheck_finishes(done: Mapping[str, dict[str, Any]], sample: Sequence[Probe]) -> list[str]:
    """Finish reasons of the rechecked answers in `sample` (skipped and not yet recorded ones left out)."""
    recs = [done[p.id] for p in sample if p.id in done]
    return [r["finish"] for r in recs if "skipped" not in r and "finish" in r]


def recheck_budget(engine: Engine, prompts: Sequence[Any], wanted: int) -> int:
    """`wanted` tokens of answer, or fewer where the model's context (prompt + answer) cannot hold them."""
    limit, tok = engine.info.max_positions, engine.tokenizer
    if not limit or tok is None:
        return wanted
    longest = max(len(tok(engine.render(q), add_special_tokens=False)["input_ids"]) for q in prompts)
    return max(0, min(wanted, limit - longest - 1))


def recheck(
    engine: Engine,
    chunk: Sequence[Probe],
    prompts: Sequence[list[Message]],
    sft: Mapping[str, dict[str, Any]],
    budget: int,
    n_cut: int,
) -> list[dict[str, Any]]:
    """One record per probe: how its answer, cut after `n_cut` tokens (`sft[p.id]`: the SFT journal's side), ends
    given `budget` tokens in all; `tokens` counts the whole answer, the part already cut included."""
    if budget <= n_cut:  # the context leaves no room for more: nothing to learn
        return [{"key": p.id, "finish": "length", "tokens": 0, "skipped": "no room in the context"} for p in chunk]
    if not engine.info.can_continue:  # e.g. an endpoint: the whole answer again
        outs = engine.generate([GenerationRequest(q, SamplingParams(max_new_tokens=budget)) for q in prompts])
        return [_record(p, out[0], "", 0, budget) for p, out in zip(chunk, outs, strict=True)]
    reqs, begun = [], []
    for p, q in zip(chunk, prompts, strict=True):
        answer, ids = sft[p.id]["greedy"][0], tuple(sft[p.id].get("cut_ids", ()))
        n_done = len(ids) or n_cut  # older SFT journals hold no ids: the text is tokenized again
        reqs.append(
            GenerationRequest(Continued(q, answer, ids), SamplingParams(max_new_tokens=max(1, budget - n_done)))
        )
        begun.append((answer, n_done, budget))
    outs = engine.generate(reqs)
    return [_record(p, out[0], *b) for p, out, b in zip(chunk, outs, begun, strict=True)]


def _record(p: Probe, c: Completion, answer: str, n_done: int, budget: int) -> dict[str, Any]:
    if c.failed:
        return {"key": p.id, "status": "failed", "error": c.error}
    return {
        "key": p.id,
        "finish": c.finish_reason,
        "tokens": n_done + c.completion_tokens,
        "tail": (answer + c.text)[-80:],
        "budget": budget,  # answer tokens allowed in all (RECHECK_FACTOR x the budget, or what the context left)
    }
