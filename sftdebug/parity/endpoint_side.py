"""The serving side of a running server: it builds the prompt itself from the chat messages, through vLLM's
`/tokenize` with `messages` (the same rendering and encoding as its chat endpoint), or llama.cpp server's
`/apply-template` then `/tokenize` (special tokens added and parsed, as its chat endpoint does). Requests go
through the endpoint engine (engines/openai.py): same retries, timeout and API-key handling.

Which ids the server stops on is measured, not assumed: one tiny `/v1/completions` request per trained
end-of-turn token forces that token (logit bias +100, greedy, two tokens allowed) and reads whether generation
stopped on it. A server that refuses the probe leaves the stop check unknown, said in the summary.

    serving = EndpointServing.open("http://127.0.0.1:8000", "model", api_key=None, tokenizer=train_tokenizer)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sftdebug.core.errors import EngineError, UsageError
from sftdebug.parity.compare import Side
from sftdebug.parity.sides import ServeError, hf_decoder, special_ids


def _missing(exc: EngineError) -> bool:
    return any(f"HTTP {code}" in str(exc) for code in (404, 405, 501))


@dataclass
class EndpointServing:
    engine: Any  # OpenAIEngine
    tokenizer: Any  # the training tokenizer: decodes the server's ids (same vocabulary assumed, checked)
    flavour: str = "vllm"  # or "llama.cpp"
    notes: list[str] = field(default_factory=list)
    description: str = ""
    _stops: dict[int, bool | None] = field(default_factory=dict)

    @classmethod
    def open(
        cls, endpoint: str, model: str, *, api_key: str | None, tokenizer: Any, timeout: float = 60.0
    ) -> EndpointServing:
        from sftdebug.engines.openai import OpenAIEngine

        try:
            engine = OpenAIEngine(model, endpoint=endpoint, api_key=api_key, timeout=timeout, check=True)
        except EngineError as exc:  # unreachable or broken: bad input for a check that needs the server
            raise UsageError(f"--endpoint {endpoint}: {exc}") from None
        serving = cls(engine, tokenizer)
        serving._detect()
        return serving

    def _detect(self) -> None:
        """vLLM's /tokenize with messages, else llama.cpp's /apply-template; neither is a one-line UsageError."""
        probe = [{"role": "user", "content": "hi"}]
        why = []
        try:
            resp = self.engine.post("/tokenize", {"model": self.engine.name, "messages": probe})
            if isinstance(resp, dict) and isinstance(resp.get("tokens"), list) and resp["tokens"]:
                self.flavour = "vllm"
                self.description = (
                    f"{self.engine.base} (model {self.engine.name}): vLLM /tokenize with messages and the "
                    "generation prompt, as its chat endpoint builds prompts"
                )
                return
            why.append("/tokenize gave no tokens for chat messages")
        except EngineError as exc:
            why.append(f"/tokenize: {'not found' if _missing(exc) else exc}")
        try:
            resp = self.engine.post("/apply-template", {"messages": probe})
        except EngineError as exc:
            why.append(f"/apply-template: {'not found' if _missing(exc) else exc}")
            resp = None
        if not (isinstance(resp, dict) and isinstance(resp.get("prompt"), str)):
            raise UsageError(
                f"--endpoint {self.engine.base} has no /tokenize for chat messages (vLLM) nor /apply-template "
                f"(llama.cpp server): parity needs the server to show the prompt tokens it builds ({'; '.join(why)})"[
                    :400
                ]
            )
        self.flavour = "llama.cpp"
        self.description = (
            f"{self.engine.base}: llama.cpp server /apply-template, then /tokenize with special tokens added and "
            "parsed, as its chat endpoint builds prompts"
        )

    def prompt(self, messages: Sequence[dict[str, str]]) -> list[int]:
        try:
            if self.flavour == "vllm":
                body = {"model": self.engine.name, "messages": list(messages), "add_generation_prompt": True}
                return [int(t) for t in self.engine.post("/tokenize", body)["tokens"]]
            text = self.engine.post("/apply-template", {"messages": list(messages)})["prompt"]
            body = {"content": text, "add_special": True, "parse_special": True}
            return [int(t["id"] if isinstance(t, dict) else t) for t in self.engine.post("/tokenize", body)["tokens"]]
        except (EngineError, KeyError, TypeError) as exc:
            raise ServeError(f"the server did not tokenize this row ({exc})"[:300]) from exc

    def side(self, ids: Sequence[int]) -> Side:
        return Side(ids, hf_decoder(self.tokenizer), special_ids(self.tokenizer), self.tokenizer.bos_token_id)

    def stops_on(self, token_id: int, token_text: str, prompt: Sequence[int]) -> bool | None:
        """Force `token_id` as the next token and see whether the server stops on it."""
        if token_id not in self._stops:
            body = {
                "model": self.engine.name,
                "prompt": list(prompt),
                "max_tokens": 2,
                "temperature": 0,
                "logit_bias": {str(token_id): 100},
            }
            try:
                choice = self.engine.post("/v1/completions", body)["choices"][0]
                self._stops[token_id] = choice.get("finish_reason") == "stop"
            except (EngineError, KeyError, IndexError, TypeError) as exc:
                self.notes.append(f"the stop probe for {token_text!r} failed ({exc}); its stop check is unknown")
                self._stops[token_id] = None
        return self._stops[token_id]
