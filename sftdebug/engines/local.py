"""What the in-process engines (transformers and vLLM) share: a local tokenizer, so prompts are rendered and
tokenized here, the same way for both, and lengths are checked before anything runs.

Rule for special tokens: raw text (base-model prompts) gets the tokenizer's usual special tokens (e.g. <bos>),
as vLLM adds them; rendered chat text already holds whatever the template put there.
"""

from __future__ import annotations

from typing import Any

from sftdebug.core.chat import render_chat, validate_messages
from sftdebug.core.errors import UsageError
from sftdebug.engines.base import Continued, EngineInfo, Prompt


class LocalEngine:
    """Base of HFEngine and VLLMEngine: `tokenizer` and `info` are set by the subclass's constructor."""

    name: str
    tokenizer: Any
    info: EngineInfo

    def render(self, prompt: Prompt) -> str:
        if isinstance(prompt, Continued):
            return self.render(prompt.prompt) + prompt.answer
        if isinstance(prompt, str):
            return prompt
        return render_chat(self.tokenizer, validate_messages(prompt))

    def encode(self, prompt: Prompt) -> list[int]:
        """Token ids of a prompt (see the module docstring for special tokens). A `Continued` prompt is the ids of
        its prompt, then its answer's own ids (or the answer tokenized on its own): as generation saw them."""
        if isinstance(prompt, Continued):
            answer = list(prompt.answer_ids) or (self.encode_continuation(prompt.answer) if prompt.answer else [])
            return self.encode(prompt.prompt) + answer
        text = self.render(prompt)
        if not text:
            raise UsageError("empty prompt: give at least one character of text")
        return [int(i) for i in self.tokenizer(text, add_special_tokens=isinstance(prompt, str))["input_ids"]]

    def encode_continuation(self, text: str) -> list[int]:
        return [int(t) for t in self.tokenizer(text, add_special_tokens=False)["input_ids"]]

    def check_length(self, n_tokens: int, index: int) -> None:
        limit = self.info.max_positions
        if limit and n_tokens > limit:
            raise UsageError(
                f"request {index}: prompt + new tokens = {n_tokens} tokens exceeds the model's {limit} positions"
            )

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError
