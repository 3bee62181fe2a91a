"""Shared by the benchmarks: the lab they run on (the `test` lab, built once into reports/lab-test)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lab(size: str = "test", calibration: bool = True) -> Path:
    from sftdebug.core.cliargs import quiet_libraries
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
