"""Prompt files for `sftdebug generate`, and the summary of its completions. Pure: no engine here.

Prompt file (JSONL): `{"id": "q1", "prompt": "raw text"}` or `{"id": "q1", "messages": [{"role": ..., "content": ...}]}`.

    items = read_prompts("prompts.jsonl")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sftdebug.core.chat import validate_messages
from sftdebug.core.errors import UsageError
from sftdebug.core.io import read_jsonl
from sftdebug.engines.base import Prompt


@dataclass(frozen=True)
class PromptItem:
    id: str
    prompt: Prompt


def read_prompts(path: str | Path) -> list[PromptItem]:
    items: list[PromptItem] = []
    seen: set[str] = set()
    for n, obj in read_jsonl(path):
        pid = str(obj.get("id", n))
        if pid in seen:
            raise UsageError(f"{path}:{n}: duplicate id {pid!r}")
        seen.add(pid)
        if isinstance(obj.get("prompt"), str) and obj["prompt"]:
            items.append(PromptItem(pid, obj["prompt"]))
        elif "messages" in obj:
            items.append(PromptItem(pid, validate_messages(obj["messages"], where=f"{path}:{n}: messages")))
        else:
            raise UsageError(f"{path}:{n}: needs a non-empty 'prompt' string or a 'messages' list")
    if not items:
        raise UsageError(f"{path}: no prompts")
    return items


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(records)
    stopped = sum(1 for r in records if r["finish_reason"] == "stop")
    tokens = sum(r["completion_tokens"] for r in records)
    return {
        "n_prompts": len({r["id"] for r in records}),
        "n_samples": n,
        "stop_rate": stopped / n if n else None,
        "mean_completion_tokens": tokens / n if n else None,
    }
