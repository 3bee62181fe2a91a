"""Conversations to training tokens, the way a correct SFT trainer builds them: input ids, labels, and which
message (and which part of it) every token came from.

Each message's tokens are located by rendering growing prefixes of the conversation with the tokenizer's own
chat template. An assistant turn k is the span between the render of messages[:k] *with* the generation
prompt (what inference feeds the model) and the render of messages[:k+1]: only that span, which includes the
end-of-turn token, is trained. When a prefix render is not a token prefix of the whole conversation, training
and inference disagree about the template; `Encoded.mismatch` says where.

    enc = encode_conversation(tokenizer, [{"role": "user", ...}, {"role": "assistant", ...}])
    enc.trained_tokens, enc.answer_spans

`eos_ids(tokenizer, folder)`: the ids that end generation at inference, which a trained answer must end with.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sftdebug.core.chat import render_chat, stop_ids

IGNORE = -100  # label of a token that takes no loss (the PyTorch cross-entropy ignore_index)
LossOn = Literal["all", "last"]


@dataclass(frozen=True)
class Segment:
    """Tokens [start, end) of message `turn`: a whole non-assistant message (`part="message"`), or an
    assistant turn's generation prompt (`"prompt"`, never trained) or answer (`"answer"`)."""

    start: int
    end: int
    role: str
    turn: int
    part: str


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]
    segments: list[Segment]
    mismatch: str | None = None  # why a prefix render was not a token prefix of the conversation

    @property
    def trained_tokens(self) -> int:
        return sum(1 for t in self.labels if t != IGNORE)

    @property
    def answers(self) -> list[Segment]:
        return [s for s in self.segments if s.part == "answer"]


def eos_ids(tokenizer: Any, folder: Path) -> dict[int, str]:
    """The ids that end generation at inference (`chat.stop_ids`, read from the folder's generation_config.json
    without loading the model), each with its token text."""
    gen = folder / "generation_config.json"
    extra = json.loads(gen.read_text(encoding="utf-8")).get("eos_token_id") if gen.is_file() else None
    return {i: str(tokenizer.convert_ids_to_tokens(i)) for i in sorted(stop_ids(tokenizer, extra))}


def token_ids(tokenizer: Any, text: str) -> list[int]:
    return [int(i) for i in tokenizer(text, add_special_tokens=False)["input_ids"]]


def encode_conversation(
    tokenizer: Any,
    messages: Sequence[dict[str, str]],
    loss_on: LossOn = "all",
    train_on_prompt: bool = False,
) -> Encoded:
    """Token ids, labels and segments of one conversation (see the module docstring)."""
    n = len(messages)
    # (k, generation_prompt) -> messages[:k] rendered: every message's end, and each answer's start
    plan = [(k + 1, False) for k in range(n - 1)] + [
        (k, True) for k, m in enumerate(messages) if m["role"] == "assistant"
    ]
    texts = [render_chat(tokenizer, messages, add_generation_prompt=False)]
    texts += [render_chat(tokenizer, messages[:k], add_generation_prompt=g) for k, g in plan]
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]  # one batched call: the slow part
    full = [int(i) for i in encoded[0]]
    prefixes = dict(zip(plan, encoded[1:], strict=True))
    answer_turns = [k for k, m in enumerate(messages) if m["role"] == "assistant"]
    trained = set(answer_turns[-1:] if loss_on == "last" else answer_turns)
    labels = list(full) if train_on_prompt else [IGNORE] * len(full)
    segments: list[Segment] = []
    mismatch: str | None = None

    def prefix_end(k: int, generation_prompt: bool, floor: int) -> int:
        nonlocal mismatch
        ids = prefixes[(k, generation_prompt)]
        if full[: len(ids)] != list(ids) and mismatch is None:
            what = "the generation prompt before" if generation_prompt else "the conversation up to"
            mismatch = f"{what} message {k if generation_prompt else k - 1} is not a token prefix of the whole"
        return min(max(len(ids), floor), len(full))

    prev = 0
    for k, m in enumerate(messages):
        end = len(full) if k == n - 1 else prefix_end(k + 1, False, prev)
        if m["role"] == "assistant":
            start = prefix_end(k, True, prev)
            end = max(end, start)
            segments += [Segment(prev, start, "assistant", k, "prompt"), Segment(start, end, "assistant", k, "answer")]
            for pos in range(start, end):
                labels[pos] = full[pos] if k in trained else IGNORE
        else:
            segments.append(Segment(prev, end, m["role"], k, "message"))
        prev = end
    return Encoded(full, labels, segments, mismatch)
