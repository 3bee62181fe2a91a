"""The development tier: `pytest -m "not slow"` as `make test` runs pytest (two xdist workers), timed once the test
lab is built (the tier's own first test builds it when it is not; that build is not what a developer waits for
between edits, so a warm-up run builds it first). The goal is 3 minutes on 2 cores.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARGS = [
    sys.executable,
    "-m",
    "pytest",
    "-q",
    "-m",
    "not slow",
    "-n",
    "2",
    "--dist",
    "loadgroup",
    "-p",
    "no:cacheprovider",
]


def run() -> str:
    subprocess.run([*ARGS, "tests/hallucination/test_hallucination_api.py"], cwd=ROOT, capture_output=True)  # lab
    t0 = time.perf_counter()
    proc = subprocess.run([*ARGS, "tests"], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
    counts = re.sub(r"\s+in [\d.]+s.*$", "", tail.strip("= "))
    return (
        '## The fast test tier: `pytest -m "not slow"` (two xdist workers, test lab built)\n\n'
        f"| exit code | tests | seconds |\n|---|---|---|\n| {proc.returncode} | {counts} | {seconds:.0f} |\n\n"
        f"The tier took **{seconds / 60:.1f} min** (goal ≤ 3 min on 2 cores); `make test` runs everything.\n"
    )
