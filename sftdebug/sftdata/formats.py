"""SFT data files as chat conversations: OpenAI `messages`, ShareGPT `conversations`, or alpaca rows.

A file is a JSON array or JSONL. Rows that do not fit the format are not dropped silently: each becomes a
`BadRow("FILE:ROW", reason)` (ROW = line of a JSONL file, 1-based element of a JSON array), counted and shown.

    data = load_sft_file("train.json")          # format detected from the first row
    data.rows[0].messages  # [{"role": "user", "content": ...}, {"role": "assistant", "content": ...}]

ShareGPT roles beyond system/user/assistant are mapped the way SFT trainers treat them (a `function_call` is
an assistant turn, trained; an `observation` is a tool result, not trained); unknown roles make a row bad and are
counted by name.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sftdebug.core.errors import UsageError
from sftdebug.core.io import BadLine, json_lines, read_text

FORMATS = ("messages", "sharegpt", "alpaca")
ROLES = ("system", "user", "assistant", "tool")
SHAREGPT_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "function_call": "assistant",
    "tool_call": "assistant",
    "observation": "tool",
    "tool": "tool",
    "function": "tool",
}


@dataclass(frozen=True)
class Row:
    where: str  # FILE:ROW
    messages: list[dict[str, str]]
    domain: str | None = None  # the --domain-field value, when asked for


@dataclass(frozen=True)
class BadRow:
    where: str
    reason: str


@dataclass
class SFTData:
    path: str
    format: str
    rows: list[Row] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    unknown_roles: Counter[str] = field(default_factory=Counter)


class _Bad(Exception):
    """A row that does not fit its format (becomes a BadRow)."""


def iter_objects(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(row number, value) for each row of a JSON array or JSONL file (a bad JSONL line comes as a `BadLine`);
    a JSON array that does not parse is a UsageError naming the line."""
    text = read_text(path)
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        except RecursionError:
            raise UsageError(f"{path}: JSON nested too deeply to read") from None
        if not isinstance(rows, list):
            raise UsageError(f"{path}: expected a JSON array of rows")
        yield from enumerate(rows, 1)
        return
    yield from json_lines(text)


def detect_format(obj: Any, where: str) -> str:
    keys = set(obj) if isinstance(obj, dict) else set()
    for fmt, key in (("messages", "messages"), ("sharegpt", "conversations"), ("alpaca", "instruction")):
        if key in keys:
            return fmt
    raise UsageError(
        f"{where}: cannot tell the data format from the keys {sorted(keys)[:8]} "
        "(expected 'messages', 'conversations' or 'instruction'): pass --format"
    )


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{what} must be a string, got {type(value).__name__}")
    return value


def _from_messages(obj: dict[str, Any], unknown: Counter[str]) -> list[dict[str, str]]:
    msgs = obj.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise _Bad("'messages' must be a non-empty list")
    out = []
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise _Bad(f"messages[{i}] must be an object with 'role' and 'content'")
        role = m.get("role")
        if role not in ROLES:
            unknown[str(role)] += 1
            raise _Bad(f"messages[{i}]: unknown role {role!r} (known: {', '.join(ROLES)})")
        out.append({"role": role, "content": _text(m.get("content"), f"messages[{i}].content")})
    return out


def _from_sharegpt(obj: dict[str, Any], unknown: Counter[str]) -> list[dict[str, str]]:
    turns = obj.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise _Bad("'conversations' must be a non-empty list")
    out = []
    if obj.get("system"):
        out.append({"role": "system", "content": _text(obj["system"], "system")})
    for i, t in enumerate(turns):
        if not isinstance(t, dict):
            raise _Bad(f"conversations[{i}] must be an object with 'from' and 'value'")
        who = t.get("from", t.get("role"))
        if who not in SHAREGPT_ROLES:
            unknown[str(who)] += 1
            raise _Bad(f"conversations[{i}]: unknown role {who!r}")
        value = t.get("value", t.get("content"))
        out.append({"role": SHAREGPT_ROLES[who], "content": _text(value, f"conversations[{i}].value")})
    return out


def _from_alpaca(obj: dict[str, Any], unknown: Counter[str]) -> list[dict[str, str]]:
    instruction = _text(obj.get("instruction"), "'instruction'")
    output = _text(obj.get("output"), "'output'")
    extra = obj.get("input") or ""
    out = [{"role": "system", "content": _text(obj["system"], "'system'")}] if obj.get("system") else []
    for i, pair in enumerate(obj.get("history") or []):
        if not (isinstance(pair, list) and len(pair) == 2):
            raise _Bad(f"history[{i}] must be a [prompt, answer] pair")
        out += [
            {"role": "user", "content": _text(pair[0], f"history[{i}][0]")},
            {"role": "assistant", "content": _text(pair[1], f"history[{i}][1]")},
        ]
    prompt = instruction + ("\n" + _text(extra, "'input'") if extra else "")
    return [*out, {"role": "user", "content": prompt}, {"role": "assistant", "content": output}]


_PARSERS = {"messages": _from_messages, "sharegpt": _from_sharegpt, "alpaca": _from_alpaca}


def load_sft_file(path: str | Path, fmt: str = "auto", domain_field: str | None = None) -> SFTData:
    """Every row of an SFT data file as messages; rows that do not fit are counted in `bad`."""
    if fmt != "auto" and fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: expected auto or one of {', '.join(FORMATS)}")
    data = SFTData(str(path), fmt)
    for n, obj in iter_objects(path):
        where = f"{path}:{n}"
        if data.format == "auto" and isinstance(obj, dict):
            data.format = detect_format(obj, where)
        try:
            if isinstance(obj, BadLine):
                raise _Bad(str(obj))
            if not isinstance(obj, dict):
                raise _Bad(f"expected a JSON object, got {type(obj).__name__}")
            messages = _PARSERS[data.format](obj, data.unknown_roles)
            if not any(m["role"] == "assistant" for m in messages):
                raise _Bad("no assistant turn to train on")
        except _Bad as exc:
            data.bad.append(BadRow(where, str(exc)))
            continue
        domain = None if domain_field is None else str(obj.get(domain_field, "(missing)"))
        data.rows.append(Row(where, messages, domain))
    if not data.rows:
        first = f" (first: {data.bad[0].where}: {data.bad[0].reason})" if data.bad else ""
        raise UsageError(f"{path}: no usable SFT rows{first}")
    return data
