"""The library call (`sftdebug.compare.run`) is the command: same page, same data, same errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import sftdebug

from sftdebug.compare import CompareConfig, CompareResult, run
from sftdebug.core.errors import UsageError
from sftdebug.core.runs import RunFolder


def _rec(pid: str, base: bool, sft: bool) -> dict[str, Any]:
    verdict = {(True, True): "kept", (True, False): "narrow_hallucination", (False, True): "gained"}.get(
        (base, sft), "never_known"
    )
    return {"key": pid, "probe_id": pid, "relation": "city", "answer": "a", "base_correct": base,
            "sft_correct": sft, "verdict": verdict, "sft_prompt": "q?", "sft_text": "x"}  # fmt: skip


def _run(folder: Path, records: list[dict[str, Any]], kind: str = "hallucination") -> str:
    with RunFolder.open(folder, kind, {"sft": folder.name, "base": "b"}) as run_folder:
        run_folder.append(records)
        run_folder.write_summary({"n_probes": len(records)})
    return str(folder)


def test_library_call_writes_what_the_command_writes(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", [_rec("1", True, True), _rec("2", True, True), _rec("3", False, False)])
    b = _run(tmp_path / "b", [_rec("1", True, False), _rec("2", True, True), _rec("3", False, True)])
    result = run(CompareConfig(run_a=a, run_b=b, out=str(tmp_path / "api" / "page.html")))
    assert isinstance(result, CompareResult) and result.page.is_file()
    assert (result.summary["fixed"], result.summary["broken"]) == (1, 1)
    proc = sftdebug("compare", a, b, "--out", str(tmp_path / "cli" / "page.html"))
    assert proc.returncode == 0, proc.stderr
    cli = json.loads((tmp_path / "cli" / "page.json").read_text())
    assert json.loads(result.data.read_text()) == cli
    assert result.page.read_text() == (tmp_path / "cli" / "page.html").read_text()
    assert run(CompareConfig(run_a=a, run_b=b)).page == Path(b) / "compare.html"


def test_library_call_refuses_bad_settings_before_writing(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", [_rec("1", True, True)])
    gen = _run(tmp_path / "gen", [{"key": "1"}], kind="generate")
    with pytest.raises(UsageError, match="not a hallucination run"):
        run(CompareConfig(run_a=a, run_b=gen, out=str(tmp_path / "out" / "page.html")))
    with pytest.raises(UsageError, match="is a folder"):
        run(CompareConfig(run_a=a, run_b=a, out=str(tmp_path)))
    with pytest.raises(UsageError, match="not a run folder"):
        run(CompareConfig(run_a=a, run_b=str(tmp_path / "none")))
    assert not (tmp_path / "out").exists() and not (Path(a) / "compare.html").exists()
