"""`sftdebug generate`: run one model over a prompt file and record every completion in a run folder.

The plainest use of an engine, and a resumable one: records are appended per chunk of prompts, so a
killed run continues with `--resume` without recomputing what finished.

    sftdebug generate --model reports/lab-test/sft-healthy --prompts prompts.jsonl --out reports/gen
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sftdebug.core.loop import run_resumable
from sftdebug.core.progress import Progress, no_progress
from sftdebug.core.runs import RunFolder
from sftdebug.engines.base import Completion, Engine, GenerationRequest, SamplingParams
from sftdebug.generate.prompts import PromptItem, summarize


def run_generate(
    engine: Engine,
    items: list[PromptItem],
    params: SamplingParams,
    run: RunFolder,
    chunk: int = 64,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """Generate for every item not yet recorded; return the summary (also written to the run folder)."""

    def keys(it: PromptItem) -> list[str]:
        return [f"{it.id}#{j}" for j in range(params.n)]

    def work(part: Sequence[PromptItem]) -> list[dict[str, Any]]:
        results = engine.generate([GenerationRequest(it.prompt, params) for it in part])
        return [_record(it, j, c) for it, samples in zip(part, results, strict=True) for j, c in enumerate(samples)]

    run_resumable(items, keys, work, run, chunk, progress, "generate")
    summary = summarize(run.records())
    summary["n_failed"] = sum(1 for it in items for k in keys(it) if not run.is_done(k))
    summary["n_retried"] = len(run.retried())  # samples that failed at first and were retried to success
    run.write_summary(summary)
    return summary


def _record(item: PromptItem, sample: int, c: Completion) -> dict[str, Any]:
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
