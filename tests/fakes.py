"""A scripted engine for pure pipeline tests: answers come from a table, no model involved."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sftdebug.engines.base import Completion, EngineInfo, GenerationRequest, Prompt, Score, ScoreRequest


def _key(prompt: Prompt) -> str:
    return prompt if isinstance(prompt, str) else prompt[-1]["content"]


class FakeEngine:
    """`answers` maps a raw prompt (or the last chat message) to the text generated for it."""

    def __init__(
        self,
        answers: dict[str, str],
        name: str = "fake",
        stop: bool = True,
        logprob: Callable[[str, str], float] | None = None,
    ) -> None:
        self.name, self.answers, self.stop, self.logprob = name, answers, stop, logprob
        self.tokenizer = None
        self.info = EngineInfo()
        self.calls = 0
        self.closed = False

    def render(self, prompt: Prompt) -> str:
        return _key(prompt)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        self.calls += 1
        return [
            [
                Completion(
                    text=self.answers.get(_key(r.prompt), ""),
                    token_ids=(1, 2),
                    prompt_tokens=3,
                    finish_reason="stop" if self.stop else "length",
                    stop_reason="eos" if self.stop else None,
                )
            ]
            * r.params.n
            for r in requests
        ]

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        fn = self.logprob or (lambda prompt, cont: -float(len(cont)))
        return [Score(fn(_key(r.prompt), r.continuation), (0.0,), ("x",)) for r in requests]

    def close(self) -> None:
        self.closed = True
