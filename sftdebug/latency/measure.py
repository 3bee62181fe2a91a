"""The latency sweep: timed requests over a grid of prompt and output lengths, recorded one by one.

Prompts are built to exact token lengths from single-token words of the model's tokenizer, and are fresh
random text for every request, so no prefix cache (ours or a server's) can shorten a prefill. Generation
ignores eos so x is exact. Warm-up requests never enter the results. With several load levels
(`--concurrency 1,4,16`) the same grid is timed at each, with that many requests in flight (see run_sweep).

    sftdebug latency --model reports/lab-demo/base --prompt-lens 8,32,128 --output-lens 1,16,64
"""

from __future__ import annotations

import functools
import itertools
import random
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sftdebug.core.errors import UsageError
from sftdebug.core.loop import pending, run_resumable
from sftdebug.core.progress import Progress
from sftdebug.core.runs import RunFolder
from sftdebug.engines.base import Completion, Engine, GenerationRequest, SamplingParams

# Without a tokenizer (an endpoint and no --tokenizer) prompts are common words; the server's usage counts.
PLAIN_WORDS = tuple(
    " " + w
    for w in [
        "time",
        "year",
        "people",
        "way",
        "day",
        "man",
        "thing",
        "woman",
        "life",
        "child",
        "world",
        "school",
        "state",
    ]
)


@dataclass(frozen=True)
class SweepConfig:
    prompt_lens: tuple[int, ...] = (16, 64, 256, 1024)
    output_lens: tuple[int, ...] = (1, 16, 64, 256)
    repeats: int = 5
    warmup: int = 3
    concurrency: tuple[int, ...] = (1,)  # load levels: requests kept in flight
    seed: int = 0


def single_token_words(tokenizer: Any, limit: int = 400) -> list[str]:
    """Words (with their leading space) that the tokenizer encodes as exactly one token."""
    words = []
    for idx in sorted(tokenizer.get_vocab().values()):
        text = tokenizer.decode([idx])
        if re.fullmatch(r" [a-z]{2,12}", text) and tokenizer(text, add_special_tokens=False)["input_ids"] == [idx]:
            words.append(text)
            if len(words) >= limit:
                break
    if len(words) < 10:
        raise UsageError("could not find single-token words in this tokenizer to build exact-length prompts")
    return words


def make_prompt(words: Sequence[str], n: int, rng: random.Random, tokenizer: Any | None) -> str:
    """n random words; with a tokenizer, checked to be exactly n tokens (without special tokens)."""
    text = "".join(rng.choice(words) for _ in range(n))
    if tokenizer is not None:
        got = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        if got != n:
            raise UsageError(f"built a {n}-token prompt but the tokenizer counts {got}: this tokenizer merges words")
    return text


def _record(key: str, p_nominal: int, x_nominal: int, rep: int, c: Completion) -> dict[str, Any]:
    if c.failed or c.timing is None:
        return {"key": key, "status": "failed", "error": c.error or "no timing reported"}
    t = c.timing
    times = list(t.token_times_s)
    return {
        "key": key,
        "p_nominal": p_nominal,
        "x_nominal": x_nominal,
        "repeat": rep,
        "p": c.prompt_tokens or p_nominal,
        "x": c.completion_tokens,
        "ttft_s": t.ttft_s,
        "e2e_s": t.e2e_s,
        "itl_s": [b - a for a, b in itertools.pairwise(times)],
    }


Cell = tuple[int, int, int]  # prompt length, output length, repeat


def _key(cell: Cell, level: int = 1) -> str:
    p, x, r = cell
    # one request at a time keeps the key of runs made before the load sweep, so that they resume
    return f"p{p}-x{x}-r{r}" if level == 1 else f"c{level}-p{p}-x{x}-r{r}"


def in_flight(engine: Engine, requests: Sequence[GenerationRequest], level: int) -> list[Completion]:
    """The answers to `requests`, sent with `level` of them in flight: each of `level` workers sends its next request
    as soon as its last one is answered (a closed loop, like guidellm's concurrent mode). An endpoint sees `level`
    connections; vLLM's AsyncLLM `level` concurrent submissions."""
    if level == 1:
        return [engine.generate([r])[0][0] for r in requests]
    with ThreadPoolExecutor(max_workers=level) as pool:
        return list(pool.map(lambda r: engine.generate([r])[0][0], requests))


def run_sweep(engine: Engine, cfg: SweepConfig, run: RunFolder, progress: Progress) -> list[dict[str, Any]]:
    """Warm up, then at each load level time every (prompt length, output length, repeat) not yet recorded.

    Under load (level L > 1) each part of the grid is led by L untimed requests (random cells), so timed requests
    start into a running server, not all at once, and trailed by L − 1 untimed requests of the largest cell, so
    that every timed request has L − 1 others beside it until it ends: the load is the same for all of them."""
    rng = random.Random(cfg.seed)
    tokenizer = engine.tokenizer
    words = single_token_words(tokenizer) if tokenizer is not None else list(PLAIN_WORDS)
    cells = [(p, x, r) for p in cfg.prompt_lens for x in cfg.output_lens for r in range(cfg.repeats)]
    rng.shuffle(cells)  # interleaved, so slow drift of a shared machine does not bias one length
    keys = [_key(c, level) for level in cfg.concurrency for c in cells]
    if pending(keys, str, run) and cfg.warmup:
        params = SamplingParams(max_new_tokens=min(8, max(cfg.output_lens)), ignore_eos=True)
        for i in range(cfg.warmup):
            engine.generate([GenerationRequest(make_prompt(words, min(cfg.prompt_lens), rng, tokenizer), params)])
            progress("warm-up", i + 1, cfg.warmup, "")

    def request(p: int, x: int) -> GenerationRequest:
        return GenerationRequest(
            make_prompt(words, p, rng, tokenizer), SamplingParams(max_new_tokens=x, ignore_eos=True)
        )

    def work_at(level: int) -> Callable[[Sequence[Cell]], list[dict[str, Any]]]:
        lead, trail = (level, level - 1) if level > 1 else (0, 0)
        biggest = (max(cfg.prompt_lens), max(cfg.output_lens))

        def work(group: Sequence[Cell]) -> list[dict[str, Any]]:
            shapes = [rng.choice(cells)[:2] for _ in range(lead)] + [c[:2] for c in group] + [biggest] * trail
            answers = in_flight(engine, [request(p, x) for p, x in shapes], level)[lead : lead + len(group)]
            return [
                {**_record(_key(c, level), c[0], c[1], c[2], a), "concurrency": level}
                for c, a in zip(group, answers, strict=True)
            ]

        return work

    for level in cfg.concurrency:
        task = "timed requests" if len(cfg.concurrency) == 1 else f"timed requests, {level} in flight"
        # parts of at least 4·L requests under load: the untimed lead and trail are at most half of the work
        chunk, min_part = (1, 1) if level == 1 else (len(cells), 4 * level)
        key = functools.partial(_key, level=level)
        run_resumable(cells, key, work_at(level), run, chunk, progress, task, min_part=min_part)
    return [run.done[k] for k in keys if run.is_done(k)]
