"""Shared by the benchmarks: the lab they run on (the `test` lab, built once into reports/lab-test)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lab(size: str = "test") -> Path:
    from sftdebug.core.cliargs import quiet_libraries
    from sftdebug.lab.build import build_lab, lab_is_built

    quiet_libraries()
    root = ROOT / "reports" / f"lab-{size}"
    if not lab_is_built(root, size):
        build_lab(root, size)
    return root
