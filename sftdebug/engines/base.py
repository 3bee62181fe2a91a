"""The one interface every engine implements (transformers, in-process vLLM, OpenAI-compatible endpoints).

Callers build `GenerationRequest`s / `ScoreRequest`s and never touch a model or a clock; what they may need to
know about an engine (context length, parameter count, device, whether it can score) it declares in `info`:

    engine = load_engine("hf", "lab/base")
    [samples] = engine.generate([GenerationRequest(prompt="Pul Gafuley lives in")])
    print(samples[0].text, samples[0].finish_reason)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from sftdebug.core.errors import EngineError

Message = dict[str, str]


@dataclass(frozen=True)
class Continued:
    """A prompt whose answer has already begun: the engine renders `prompt` as usual, appends the answer and
    generates what follows it (only engines whose `info.can_continue` is True take it). `answer_ids` are the
    token ids the engine itself produced for `answer`; given, they are fed as they are, so that a greedy
    continuation is what one longer greedy run would have produced (the decoded text, tokenized again, may
    split differently at the seam). Without them `answer` is tokenized on its own."""

    prompt: str | list[Message]
    answer: str
    answer_ids: tuple[int, ...] = ()


# A prompt is raw text (continued as is: base models) or chat messages (rendered with the model's own
# chat template plus the generation prompt: SFT models), or either with its answer begun (`Continued`).
Prompt = str | list[Message] | Continued
# "error": the request failed after retries (endpoint engines); callers record it as failed so that
# `--resume` retries it, and never mistake it for a model answer.
FinishReason = Literal["stop", "length", "error"]


@dataclass(frozen=True)
class SamplingParams:
    """How to generate. temperature 0 means greedy (top_p and seed are then ignored)."""

    max_new_tokens: int = 32
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    seed: int | None = None
    stop: tuple[str, ...] = ()  # stop strings; the text is cut before them
    stop_token_ids: tuple[int, ...] = ()  # extra stop tokens besides the model's eos / end-of-turn
    ignore_eos: bool = False  # latency sweeps need exactly max_new_tokens tokens

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")


@dataclass(frozen=True)
class GenerationRequest:
    prompt: Prompt
    params: SamplingParams = field(default_factory=SamplingParams)


@dataclass(frozen=True)
class Timing:
    """Wall-clock timing of one completion, in seconds from the moment its request was started.

    `token_times_s[i]` is when output token i arrived; in batched generation all rows of a batch share
    the batch's clock, so these are per-batch figures (latency sweeps use batch size 1).
    """

    ttft_s: float
    e2e_s: float
    token_times_s: tuple[float, ...] = ()


@dataclass(frozen=True)
class Completion:
    text: str
    token_ids: tuple[int, ...]  # empty where the engine does not see ids (HTTP endpoints)
    prompt_tokens: int
    finish_reason: FinishReason
    stop_reason: str | None = None  # "eos", the stop string, or None when finish_reason == "length"
    timing: Timing | None = None
    n_tokens: int | None = None  # completion tokens when token_ids are not known (server-reported usage)
    error: str | None = None  # why the request failed (finish_reason == "error")

    @property
    def completion_tokens(self) -> int:
        return self.n_tokens if self.n_tokens is not None else len(self.token_ids)

    @property
    def failed(self) -> bool:
        return self.finish_reason == "error"


@dataclass(frozen=True)
class ScoreRequest:
    """Log-probability of `continuation` right after `prompt` (chat prompts get the generation prompt)."""

    prompt: Prompt
    continuation: str


@dataclass(frozen=True)
class Score:
    logprob: float  # sum over the continuation's tokens (nan when the request failed)
    token_logprobs: tuple[float, ...]
    tokens: tuple[str, ...]
    error: str | None = None  # why the request failed after retries (endpoint engines): record, never rank

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def mean_logprob(self) -> float:
        return self.logprob / max(1, len(self.token_logprobs))


class ScoringUnsupported(EngineError):
    """This engine cannot return log-probabilities of given text (e.g. an endpoint without echo + logprobs)."""


@dataclass(frozen=True)
class EngineInfo:
    """What an engine declares about itself (None where it cannot know, e.g. a remote endpoint)."""

    max_positions: int | None = None  # context length: prompt + new tokens must fit
    n_params: int | None = None
    bytes_per_param: float | None = None
    device: str | None = None  # "cpu", or the GPU's name
    can_score: bool = True  # False: `score` raises ScoringUnsupported
    folder: str | None = None  # the local checkpoint folder, for steps that need the weights themselves
    can_continue: bool = False  # True: prompts may be `Continued` (an answer resumed from its token ids)


@runtime_checkable
class Engine(Protocol):
    """Turns requests into completions. Implementations batch internally as they see fit."""

    name: str  # what the user passed (folder, hub id or served model name)
    tokenizer: Any  # the model's tokenizer (transformers), or None where the engine has none (an endpoint)
    info: EngineInfo

    def render(self, prompt: Prompt) -> str:
        """The exact text the model sees (chat messages rendered with the generation prompt)."""
        ...

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        """One list of `params.n` completions per request, in request order."""
        ...

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        """Log-probabilities of given continuations, in request order (ScoringUnsupported if it cannot)."""
        ...

    def close(self) -> None: ...
