"""Shared by the benchmarks: the lab they run on (the `test` lab, built once into reports/lab-test)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lab(size: str = "test", calibration: bool = True) -> Path:
    from sftdebug.engines.config import quiet_libraries
    from sftdebug.lab.build import build_lab, lab_is_built

    quiet_libraries()
    root = ROOT / "reports" / f"lab-{size}"
    if not lab_is_built(root, size, calibration):
        build_lab(root, size, calibration=calibration)
    return root


def timed(argv: list[str]) -> float:
    """Wall seconds of one command, offline, as a user would run it; a failure raises with its stderr's tail."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def sftdebug_timed(*args: str) -> float:
    """`timed` for `python -m sftdebug ARGS`."""
    return timed([sys.executable, "-m", "sftdebug", *args])


def checkpoints_of(folder: Path) -> list[Path]:
    """A trainer's `checkpoint-STEP` folders in step order."""
    return sorted(folder.iterdir(), key=lambda p: int(p.name.rsplit("-", 1)[1]))


def trend_vs_separate(args: list[str], pattern: str, separate: list[Path], tmp: Path) -> tuple[float, float, int, str]:
    """`hallucination ARGS --sft PATTERN` (one trend run) against one `hallucination ARGS --sft S` per folder of
    `separate` (the same checkpoints, in step order): (trend seconds, separate seconds, checkpoints whose verdicts
    are equal, the trend's narrow rates "a → b → …")."""
    from sftdebug.core.runs import read_records, read_summary

    def verdicts(run: Path) -> dict[str, str]:
        return {r["probe_id"]: r["verdict"] for r in read_records(run)}

    trend = tmp / "trend"
    trend_s = sftdebug_timed("hallucination", *args, "--sft", pattern, "--out", str(trend))
    separate_s, same = 0.0, 0
    rows = read_summary(trend)["checkpoints"]
    for row, ckpt in zip(rows, separate, strict=True):
        alone = tmp / f"run-{ckpt.name}"
        separate_s += sftdebug_timed("hallucination", *args, "--sft", str(ckpt), "--out", str(alone))
        same += verdicts(trend / "checkpoints" / row["name"]) == verdicts(alone)
    return trend_s, separate_s, same, " → ".join(f"{c['narrow_hallucination_rate']:.1%}" for c in rows)
