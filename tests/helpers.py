"""Helpers shared by the test files: run the real CLI in a subprocess, and assert the one-line error contract."""

from __future__ import annotations

import os
import subprocess
import sys


def sftdebug(*args: str, **kw) -> subprocess.CompletedProcess:
    """`python -m sftdebug ARGS` offline, with a wide terminal so table cells are not folded."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "sftdebug", *args], capture_output=True, text=True, env=env, **kw)


def one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    """Exit 2, no traceback, exactly one stderr line, containing every needle."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def bar(name: str, value: float, op: str, limit: float) -> None:
    """Assert a threshold on a trained organism, and record it to $SFTDEBUG_MARGINS (JSONL) when set: the lab
    spread benchmark (benchmarks/lab_spread.py) runs these tests on labs of other seeds to show each bar holds
    with margin on any lab the recipe can produce, not only on this one."""
    import json
    import operator

    ok = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}[op](value, limit)
    path = os.environ.get("SFTDEBUG_MARGINS")
    if path:
        row = {
            "bar": name,
            "value": round(value, 4),
            "op": op,
            "limit": limit,
            "seed": os.environ.get("SFTDEBUG_LAB_SEED", "0"),
        }
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
    assert ok, f"{name}: {value:.4f} {op} {limit} does not hold"
