"""`import sftdebug`, every diagnostic's public call and `sftdebug --help` must stay light: no torch, transformers, vllm
or pandas."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "vllm", "pandas")
# every diagnostic's public call, its config and its result: importing them must stay light too
PUBLIC = """
from sftdebug.hallucination import HallucinationConfig, HallucinationResult, run
from sftdebug.risk import RiskConfig, RiskResult, RiskSettings, assess, run
from sftdebug.latency import LatencyConfig, LatencyResult, run
from sftdebug.data import DataConfig, DataResult, run
from sftdebug.overfit import FactSet, FactSetConfig, OverfitConfig, OverfitEvalConfig, OverfitResult, make, run, run_eval
from sftdebug.generate import GenerateConfig, GenerateResult, run
from sftdebug.compare import CompareConfig, CompareResult, run
from sftdebug.merge import MergeConfig, run
from sftdebug.parity import ParityConfig, ParityResult, run
from sftdebug.engines.config import EngineConfig
from sftdebug.core.runs import RunResult
"""


def test_import_and_help_do_not_load_heavy_modules() -> None:
    code = (
        "import sys, sftdebug, sftdebug.cli\n"
        f"{PUBLIC}"
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
