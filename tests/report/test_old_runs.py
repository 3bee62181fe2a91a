"""Run folders written before the restructure (sftdebug 3a698eb; fixtures in tests/fixtures/runs-before-0.2)
still read with `sftdebug report`; a run written by a newer schema is refused in one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import one_line_error, sftdebug

from sftdebug.core.runs import load_run

OLD = Path(__file__).resolve().parents[1] / "fixtures" / "runs-before-0.2"


@pytest.mark.parametrize("kind", ["hallucination", "generate", "latency", "data"])
def test_old_run_folders_still_report(kind: str, tmp_path: Path) -> None:
    run = tmp_path / kind
    shutil.copytree(OLD / kind, run)
    proc = sftdebug("report", str(run))
    assert proc.returncode == 0, proc.stderr
    page = (run / "report.html").read_text()
    assert "<!doctype html>" in page and "Traceback" not in page
    assert len(load_run(run)) >= 1


def test_all_old_runs_on_one_page(tmp_path: Path) -> None:
    proc = sftdebug("report", *[str(OLD / k) for k in ("hallucination", "latency")], "--out", str(tmp_path / "r.html"))
    assert proc.returncode == 0, proc.stderr
    assert "narrow-hallucination rate" in (tmp_path / "r.html").read_text()


def test_a_newer_schema_is_refused_in_one_line(tmp_path: Path) -> None:
    run = tmp_path / "gen"
    shutil.copytree(OLD / "generate", run)
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "schema_version": 99}))
    one_line_error(sftdebug("report", str(run)), "schema_version 99", "newer")
    assert not (run / "report.html").exists()
