"""The two sides of `sftdebug parity`: the trainer's prompt tokens for every trained assistant turn (the data
lint's encoding), and a serving side that builds its own prompt from the same messages.

A serving side is anything with `prompt(messages) -> ids`, `side(ids) -> compare.Side` and
`stops_on(token_id, token_text) -> bool | None`; this module has the tokenizer-folder one, `gguf_side.py` the
GGUF one, `endpoint_side.py` the running-server one.

    turns = train_turns(tokenizer, row.messages, eos)
    serving = TokenizerServing(tokenizer, folder, encoding="text")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sftdebug.core.chat import render_chat
from sftdebug.parity.compare import Region, Side

ENCODINGS = {
    # name -> (add_special_tokens when encoding the rendered prompt, what it models)
    "text": (
        True,
        "the rendered prompt encoded with the tokenizer's own special tokens (TGI, SGLang, a hand-written loop)",
    ),
    "chat": (
        False,
        "the rendered prompt encoded without adding special tokens (vLLM's chat endpoint, "
        "apply_chat_template(tokenize=True))",
    ),
}


class ServeError(Exception):
    """The serving side cannot build this row's prompt (its template raises, the server refuses it)."""


class Serving(Protocol):
    description: str
    notes: list[str]

    def prompt(self, messages: Sequence[dict[str, str]]) -> list[int]: ...

    def side(self, ids: Sequence[int]) -> Side: ...

    def stops_on(self, token_id: int, token_text: str, prompt: Sequence[int]) -> bool | None: ...


@dataclass(frozen=True)
class TrainTurn:
    """One trained assistant turn: the prompt the trainer conditions its answer on, where each message sits in
    it, and the end-of-turn token trained at the end of the answer."""

    turn: int
    ids: list[int]
    layout: list[Region]
    end_id: int | None
    end_text: str | None


def special_ids(tokenizer: Any) -> frozenset[int]:
    """Special and added tokens: the ids a template's markers should map to."""
    added = {int(i) for i in getattr(tokenizer, "added_tokens_decoder", {})}
    return frozenset({int(i) for i in tokenizer.all_special_ids} | added)


def hf_decoder(tokenizer: Any) -> Any:
    def decode(ids: Sequence[int]) -> str:
        return str(tokenizer.decode(list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False))

    return decode


def _layout(enc: Any, messages: Sequence[dict[str, str]], turn: int, start: int) -> list[Region]:
    out = []
    for s in enc.segments:
        if s.start >= start and not (s.turn == turn and s.part == "prompt"):
            continue
        part = "generation" if (s.turn == turn and s.part == "prompt") else s.part
        content = messages[s.turn]["content"] if part in ("message", "answer") else ""
        out.append(Region(s.start, min(s.end, start), s.role, part, content))
    return out


def _trained_end(enc: Any, start: int, end: int, eos: dict[int, str], special: frozenset[int]) -> int | None:
    """The answer's end-of-turn token: the last eos inside it, else its first special token after the text."""
    span = enc.input_ids[start:end]
    hits = [t for t in span if t in eos]
    if hits:
        return int(hits[-1])
    marks = [t for t in span[1:] if t in special]
    return int(marks[0]) if marks else None


def train_turns(
    tokenizer: Any, messages: Sequence[dict[str, str]], eos: dict[int, str], special: frozenset[int] | None = None
) -> list[TrainTurn]:
    """Every assistant turn of a conversation as the trainer sees it (sftdata/encode.py, every answer trained)."""
    from sftdebug.sftdata.encode import encode_conversation

    enc = encode_conversation(tokenizer, messages, loss_on="all")
    special = special_ids(tokenizer) if special is None else special
    out = []
    for s in enc.answers:
        end_id = _trained_end(enc, s.start, s.end, eos, special)
        end_text = None if end_id is None else hf_decoder(tokenizer)([end_id])
        layout = _layout(enc, messages, s.turn, s.start)
        out.append(TrainTurn(s.turn, [int(i) for i in enc.input_ids[: s.start]], layout, end_id, end_text))
    return out


@dataclass
class TokenizerServing:
    """A tokenizer folder as a server loads it: its chat template rendered by transformers, the text encoded as
    `encoding` says, generation stopping on its eos and generation_config's eos ids."""

    tokenizer: Any
    folder: Path
    encoding: str = "chat"
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        from sftdebug.sftdata.encode import eos_ids

        self.stops = eos_ids(self.tokenizer, self.folder)
        self.special = special_ids(self.tokenizer)
        self.decode = hf_decoder(self.tokenizer)
        add, what = ENCODINGS[self.encoding]
        self.add_special = add
        self.description = f"tokenizer folder {self.folder}, rendered by transformers; {what}"

    def prompt(self, messages: Sequence[dict[str, str]]) -> list[int]:
        try:
            text = render_chat(self.tokenizer, messages, add_generation_prompt=True)
        except Exception as exc:  # the serving template refuses the row: that is the finding
            raise ServeError(f"the serving template does not render this row ({type(exc).__name__}: {exc})") from exc
        return [int(i) for i in self.tokenizer(text, add_special_tokens=self.add_special)["input_ids"]]

    def side(self, ids: Sequence[int]) -> Side:
        return Side(ids, self.decode, self.special, self.tokenizer.bos_token_id)

    def stops_on(self, token_id: int, token_text: str, prompt: Sequence[int]) -> bool | None:
        return token_id in self.stops
