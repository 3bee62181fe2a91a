"""`import sftdebug` and `sftdebug --help` must stay light: no torch, transformers or vllm."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "vllm")


def test_import_and_help_do_not_load_heavy_modules() -> None:
    code = (
        "import sys, sftdebug, sftdebug.cli\n"
        "from sftdebug.hallucination import HallucinationConfig, run\n"
        "sftdebug.cli.build_parser().format_help()\n"
        "try:\n    sftdebug.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY=", f"heavy modules imported: {out.stdout[-200:]}"


def test_help_runs_as_a_module() -> None:
    out = subprocess.run([sys.executable, "-m", "sftdebug", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "lab" in out.stdout and "generate" in out.stdout
