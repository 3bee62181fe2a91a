"""`sftdebug generate`: run one model over a prompt file and record every completion in a run folder.

The plainest use of an engine, and a resumable one: records are appended per chunk of prompts, so a
killed run continues with `--resume` without recomputing what finished.

    sftdebug generate --model reports/lab-test/sft-healthy --prompts prompts.jsonl --out reports/gen

Prompt file (JSONL): `{"id": "q1", "prompt": "raw text"}` or `{"id": "q1", "messages": [{"role": ..., "content": ...}]}`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sftdebug.chat import validate_messages
from sftdebug.engines.base import Engine, GenerationRequest, Prompt, SamplingParams
from sftdebug.errors import UsageError
from sftdebug.jsonl import read_jsonl
from sftdebug.store import RunFolder

Tick = Callable[[int, int], None]  # (done, total)


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


def run_generate(
    engine: Engine,
    items: list[PromptItem],
    params: SamplingParams,
    run: RunFolder,
    chunk: int = 64,
    tick: Tick | None = None,
) -> dict[str, Any]:
    """Generate for every item not yet recorded; return the summary (also written to the run folder)."""
    todo = [it for it in items if not all(run.is_done(f"{it.id}#{j}") for j in range(params.n))]
    done = len(items) - len(todo)
    if tick:
        tick(done, len(items))
    for start in range(0, len(todo), chunk):
        batch = todo[start : start + chunk]
        results = engine.generate([GenerationRequest(it.prompt, params) for it in batch])
        run.append(_record(it, j, c) for it, samples in zip(batch, results, strict=True) for j, c in enumerate(samples))
        done += len(batch)
        if tick:
            tick(done, len(items))
    summary = summarize(run.records())
    summary["n_failed"] = sum(1 for it in items for j in range(params.n) if not run.is_done(f"{it.id}#{j}"))
    run.write_summary(summary)
    return summary


def _record(item: PromptItem, sample: int, c: Any) -> dict[str, Any]:
    if c.failed:  # kept for the record, retried by --resume
        return {"key": f"{item.id}#{sample}", "id": item.id, "sample": sample, "status": "failed", "error": c.error}
    return {
        "key": f"{item.id}#{sample}",
        "id": item.id,
        "sample": sample,
        "prompt": item.prompt,
        "text": c.text,
        "finish_reason": c.finish_reason,
        "stop_reason": c.stop_reason,
        "prompt_tokens": c.prompt_tokens,
        "completion_tokens": c.completion_tokens,
        "ttft_s": c.timing.ttft_s if c.timing else None,
        "e2e_s": c.timing.e2e_s if c.timing else None,
    }


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
