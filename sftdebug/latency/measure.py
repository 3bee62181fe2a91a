"""The latency sweep: timed requests over a grid of prompt and output lengths, recorded one by one.

Prompts are built to exact token lengths from single-token words of the model's tokenizer, and are fresh
random text for every request, so no prefix cache (ours or a server's) can shorten a prefill. Generation
ignores eos so x is exact. Warm-up requests never enter the results.

    sftdebug latency --model reports/lab-demo/base --prompt-lens 8,32,128 --output-lens 1,16,64
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Sequence
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
    concurrency: int = 1
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


def _key(cell: tuple[int, int, int]) -> str:
    p, x, r = cell
    return f"p{p}-x{x}-r{r}"


def run_sweep(engine: Engine, cfg: SweepConfig, run: RunFolder, progress: Progress) -> list[dict[str, Any]]:
    """Warm up, then time every (prompt length, output length, repeat) not yet recorded."""
    rng = random.Random(cfg.seed)
    tokenizer = engine.tokenizer
    words = single_token_words(tokenizer) if tokenizer is not None else list(PLAIN_WORDS)
    cells = [(p, x, r) for p in cfg.prompt_lens for x in cfg.output_lens for r in range(cfg.repeats)]
    rng.shuffle(cells)  # interleaved, so slow drift of a shared machine does not bias one length
    if pending(cells, _key, run) and cfg.warmup:
        params = SamplingParams(max_new_tokens=min(8, max(cfg.output_lens)), ignore_eos=True)
        for i in range(cfg.warmup):
            engine.generate([GenerationRequest(make_prompt(words, min(cfg.prompt_lens), rng, tokenizer), params)])
            progress("warm-up", i + 1, cfg.warmup, "")

    def work(group: Sequence[tuple[int, int, int]]) -> list[dict[str, Any]]:
        reqs = [
            GenerationRequest(make_prompt(words, p, rng, tokenizer), SamplingParams(max_new_tokens=x, ignore_eos=True))
            for p, x, _ in group
        ]
        results = engine.generate(reqs)
        return [_record(_key(c), c[0], c[1], c[2], out[0]) for c, out in zip(group, results, strict=True)]

    # Requests go one at a time unless --concurrency asks for loaded latency (an endpoint under load).
    run_resumable(cells, _key, work, run, cfg.concurrency, progress, "timed requests")
    return [run.done[_key(c)] for c in cells if run.is_done(_key(c))]
