"""Many checkpoints of one SFT run against one base: how narrow hallucination moves over training.

Each checkpoint's step comes from its `trainer_state.json` (`global_step`, as transformers' Trainer writes it),
else the last number in its folder name (`checkpoint-500`), else its position on the command line. The trend
joins the checkpoints' verdict records (each checkpoint is an ordinary hallucination run, sharing the base
phase) into per-fact histories and a per-checkpoint table, and suggests where to stop: the lowest narrow rate
among the checkpoints that stop by themselves. Pure apart from reading step files.

    steps = [checkpoint_step(path, i) for i, path in enumerate(paths)]
    records, summary = summarize_trend(checkpoints, per_checkpoint_records, per_checkpoint_summaries)
"""

from __future__ import annotations

import glob
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sftdebug.core.errors import UsageError
from sftdebug.hallucination.schema import HallucinationSummary, TrendRow, TrendSummary
from sftdebug.hallucination.verdicts import LOW_EOS_RATE

_GLOB = re.compile(r"[*?\[]")


def expand_checkpoints(specs: Sequence[str]) -> list[str]:
    """--sft values with shell-style patterns expanded (quoted so the shell left them: 'out/checkpoint-*');
    a pattern that matches nothing is an error, as is a checkpoint given twice."""
    out: list[str] = []
    for spec in specs:
        if _GLOB.search(spec):
            found = sorted(glob.glob(spec))
            if not found:
                raise UsageError(f"--sft {spec!r} matches no file or folder")
            out += found
        else:
            out.append(spec)
    dupes = sorted({s for s in out if out.count(s) > 1})
    if dupes:
        raise UsageError(f"--sft {dupes[0]!r} is given more than once")
    return out


def checkpoint_step(path: str, order: int) -> tuple[int, str]:
    """(step, where it came from) of one checkpoint."""
    state = Path(path) / "trainer_state.json"
    if state.is_file():
        try:
            step = json.loads(state.read_text(encoding="utf-8")).get("global_step")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            step = None
        if isinstance(step, int):
            return step, "trainer_state.json"
    numbers = re.findall(r"\d+", Path(path.rstrip("/")).name)
    if numbers:
        return int(numbers[-1]), "folder name"
    return order, "order"


def ordered_checkpoints(paths: Sequence[str]) -> list[dict[str, Any]]:
    """The checkpoints sorted by step, each with a short unique folder name for its run."""
    rows: list[dict[str, Any]] = []
    for i, path in enumerate(paths):
        step, source = checkpoint_step(path, i)
        rows.append({"path": path, "step": step, "step_from": source})
    rows.sort(key=lambda r: r["step"])
    if len({r["step"] for r in rows}) < len(rows):
        rows = [
            {**r, "step": i, "step_from": "order"}
            for i, r in enumerate(sorted(rows, key=lambda r: paths.index(r["path"])))
        ]
    for i, r in enumerate(rows):
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(r["path"].rstrip("/")).name)[:40] or "checkpoint"
        r["name"] = f"{i:02d}-{stem}"
    return rows


def _history(steps: Sequence[int], verdicts: Sequence[str]) -> dict[str, Any]:
    """When a fact was first lost (narrow hallucination) and, after that, first regained (kept)."""
    lost = next((i for i, v in enumerate(verdicts) if v == "narrow_hallucination"), None)
    regained = None
    if lost is not None:
        regained = next((i for i in range(lost + 1, len(verdicts)) if verdicts[i] == "kept"), None)
    return {
        "first_lost_step": steps[lost] if lost is not None else None,
        "regained_step": steps[regained] if regained is not None else None,
    }


def summarize_trend(
    checkpoints: Sequence[dict[str, Any]],
    records: Sequence[Sequence[dict[str, Any]]],
    summaries: Sequence[HallucinationSummary],
) -> tuple[list[dict[str, Any]], TrendSummary]:
    """Per-fact history records and the trend summary, from each checkpoint's records and summary (in step
    order). Only facts recorded for every checkpoint are joined."""
    steps = [c["step"] for c in checkpoints]
    by_ckpt = [{r["probe_id"]: r for r in recs} for recs in records]
    common = sorted(set.intersection(*(set(b) for b in by_ckpt))) if by_ckpt else []
    facts = []
    for pid in common:
        rows = [b[pid] for b in by_ckpt]
        verdicts = [r["verdict"] for r in rows]
        facts.append(
            {
                "key": pid,
                "probe_id": pid,
                "relation": rows[0].get("relation"),
                "answer": rows[0]["answer"],
                "base_correct": rows[0]["base_correct"],
                "verdicts": verdicts,
                "sft_correct": [r["sft_correct"] for r in rows],
                "sft_texts": [r["sft_text"] for r in rows],
                "loss_kinds": [r.get("loss_kind") for r in rows],
                **_history(steps, verdicts),
            }
        )
    table = [_row(c, s) for c, s in zip(checkpoints, summaries, strict=True)]
    stopping = [
        r for r in table if (r["sft_eos_rate"] or 0) >= LOW_EOS_RATE and r["narrow_hallucination_rate"] is not None
    ]
    best = min(
        stopping, key=lambda r: (r["narrow_hallucination_rate"], -(r["sft_accuracy"] or 0), -r["step"]), default=None
    )
    last = table[-1] if table else None
    summary: TrendSummary = {
        "n_checkpoints": len(table),
        "n_probes": len(common),
        "checkpoints": table,
        # the last checkpoint's figures at the top level: what --fail-above gates
        "narrow_hallucination_rate": last["narrow_hallucination_rate"] if last else None,
        "sft_accuracy": last["sft_accuracy"] if last else None,
        "sft_eos_rate": last["sft_eos_rate"] if last else None,
        "format_loss_rate": last["format_loss_rate"] if last else None,
        "knowledge_loss_rate": last["knowledge_loss_rate"] if last else None,
        "n_failed": sum(r["n_failed"] or 0 for r in table),
        "n_retried": sum(s.get("n_retried", 0) for s in summaries),
        "suggested_checkpoint": (
            {"name": best["name"], "path": best["path"], "step": best["step"], "why": (
                f"lowest narrow-hallucination rate ({best['narrow_hallucination_rate']:.1%}) among the "
                f"{len(stopping)} checkpoints that end ≥ {LOW_EOS_RATE:.0%} of answers with eos"
            )} if best else None
        ),
        "n_lost_at_some_step": sum(f["first_lost_step"] is not None for f in facts),
        "n_regained": sum(f["regained_step"] is not None for f in facts),
        "warnings": [] if best else [f"no checkpoint ends ≥ {LOW_EOS_RATE:.0%} of its answers with eos: no stopping point to suggest"],
    }  # fmt: skip
    return facts, summary


def _row(checkpoint: dict[str, Any], s: HallucinationSummary) -> TrendRow:
    """A checkpoint's line of the trend table: where it is, and its run's figures (None: not in its run)."""
    return {
        "name": checkpoint["name"],
        "path": checkpoint["path"],
        "step": checkpoint["step"],
        "step_from": checkpoint["step_from"],
        "narrow_hallucination_rate": s.get("narrow_hallucination_rate"),
        "narrow_hallucination_ci95": s.get("narrow_hallucination_ci95"),
        "sft_accuracy": s.get("sft_accuracy"),
        "sft_eos_rate": s.get("sft_eos_rate"),
        "format_loss_rate": s.get("format_loss_rate"),
        "knowledge_loss_rate": s.get("knowledge_loss_rate"),
        "n_failed": s.get("n_failed"),
        "by_relation": {rel: g["narrow_hallucination_rate"] for rel, g in s["by_relation"].items()},
    }
