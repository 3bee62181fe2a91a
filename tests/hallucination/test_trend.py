"""Checkpoint trends: steps from trainer_state.json / folder names, per-fact histories, the early-stopping
suggestion, and on the lab's sft-conflict checkpoints the same verdicts as separate runs of each checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import one_line_error, sftdebug

from sftdebug.core.errors import UsageError
from sftdebug.core.runs import read_records, read_summary
from sftdebug.hallucination.trend import checkpoint_step, expand_checkpoints, ordered_checkpoints, summarize_trend


def test_steps_come_from_trainer_state_then_folder_name_then_order(tmp_path: Path) -> None:
    state = tmp_path / "run" / "checkpoint-100"
    state.mkdir(parents=True)
    (state / "trainer_state.json").write_text(json.dumps({"global_step": 96}))
    named = tmp_path / "run" / "checkpoint-200"
    named.mkdir()
    (tmp_path / "final").mkdir()
    assert checkpoint_step(str(state), 0) == (96, "trainer_state.json")
    assert checkpoint_step(str(named), 1) == (200, "folder name")
    assert checkpoint_step(str(tmp_path / "final"), 2) == (2, "order")
    rows = ordered_checkpoints([str(named), str(state)])
    assert [(r["step"], r["name"]) for r in rows] == [(96, "00-checkpoint-100"), (200, "01-checkpoint-200")]


def test_patterns_expand_and_bad_ones_are_refused(tmp_path: Path) -> None:
    for n in (2, 10):
        (tmp_path / f"checkpoint-{n}").mkdir()
    assert expand_checkpoints([str(tmp_path / "checkpoint-*")]) == [
        str(tmp_path / "checkpoint-10"),
        str(tmp_path / "checkpoint-2"),
    ]
    with pytest.raises(UsageError, match="matches no file"):
        expand_checkpoints([str(tmp_path / "nope-*")])
    with pytest.raises(UsageError, match="more than once"):
        expand_checkpoints(["a", "a"])


def _rec(pid: str, verdict: str) -> dict[str, Any]:
    return {
        "probe_id": pid, "relation": "city", "answer": "x", "base_correct": True, "verdict": verdict,
        "sft_correct": verdict == "kept", "sft_text": verdict,
    }  # fmt: skip


def _summary(rate: float, eos: float, acc: float = 0.5) -> dict[str, Any]:
    return {
        "narrow_hallucination_rate": rate, "narrow_hallucination_ci95": [0, 1], "sft_accuracy": acc,
        "sft_eos_rate": eos, "n_failed": 0, "by_relation": {"city": {"narrow_hallucination_rate": rate}},
    }  # fmt: skip


def test_histories_and_the_suggested_checkpoint() -> None:
    ckpts = [
        {"name": f"0{i}-c", "path": f"c{i}", "step": s, "step_from": "folder name"} for i, s in enumerate((10, 20, 30))
    ]
    records = [
        [_rec("a", "kept"), _rec("b", "kept")],
        [_rec("a", "narrow_hallucination"), _rec("b", "kept")],
        [_rec("a", "kept"), _rec("b", "narrow_hallucination")],
    ]
    # step 10 has the lowest narrow rate but does not stop (eos 50%): step 30 is suggested over step 20
    facts, s = summarize_trend(ckpts, records, [_summary(0.0, 0.5), _summary(0.5, 0.95), _summary(0.4, 0.99)])
    hist = {f["probe_id"]: (f["first_lost_step"], f["regained_step"]) for f in facts}
    assert hist == {"a": (20, 30), "b": (30, None)}
    assert s["suggested_checkpoint"]["step"] == 30 and s["n_lost_at_some_step"] == 2 and s["n_regained"] == 1
    assert s["narrow_hallucination_rate"] == 0.4, "the last checkpoint's figures are what gates see"
    _, s = summarize_trend(ckpts, records, [_summary(0.0, 0.5)] * 3)
    assert s["suggested_checkpoint"] is None and "no checkpoint" in s["warnings"][0]


@pytest.mark.slow
def test_trend_on_lab_checkpoints_equals_separate_runs(lab: Path, tmp_path: Path) -> None:
    """The lab keeps sft-conflict at four points of its schedule; the trend's verdicts for each checkpoint
    equal a separate `hallucination` run of that checkpoint, the base phase runs once, and the narrow rate
    grows as the conflicting answers are learned."""
    ckpts = sorted((lab / "sft-conflict-checkpoints").iterdir(), key=lambda p: int(p.name.split("-")[1]))
    assert len(ckpts) == 4
    base = ["hallucination", "--base", str(lab / "base"), "--limit", "120"]
    trend = tmp_path / "trend"
    pattern = str(lab / "sft-conflict-checkpoints" / "checkpoint-*")
    proc = sftdebug(*base, "--sft", pattern, "--out", str(trend))
    assert proc.returncode == 0, proc.stderr
    summary = read_summary(trend)
    assert [c["step"] for c in summary["checkpoints"]] == [int(p.name.split("-")[1]) for p in ckpts]
    assert summary["checkpoints"][0]["step_from"] == "trainer_state.json"
    lines = [line for line in (trend / "base.jsonl").read_text().splitlines() if '"key": "#elicitation"' not in line]
    assert len(lines) == 120, "one base phase for all checkpoints"
    rates = [c["narrow_hallucination_rate"] for c in summary["checkpoints"]]
    assert rates[-1] > rates[0]
    pairs = list(zip(summary["checkpoints"], ckpts, strict=True))
    for row, ckpt in [pairs[0], pairs[-1]]:  # the first and the last: a separate run of each gives the same verdicts
        alone = tmp_path / ckpt.name
        assert sftdebug(*base, "--sft", str(ckpt), "--out", str(alone)).returncode == 0
        verdicts = lambda d: {r["probe_id"]: r["verdict"] for r in read_records(d)}  # noqa: E731
        assert verdicts(trend / "checkpoints" / row["name"]) == verdicts(alone)
    assert len(read_records(trend)) == 120
    page = (trend / "report.html").read_text()
    assert "Over training" in page and "checkpoints/00-checkpoint-" in page
    one_line_error(sftdebug(*base, "--sft", str(lab / "nope-*"), "--out", str(tmp_path / "x")), "matches no")
    assert not (tmp_path / "x").exists()
