"""The library calls (`sftdebug.overfit.make`, `run_eval`, `run`) are the commands: same files, same errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import sftdebug

from sftdebug.core.errors import UsageError
from sftdebug.core.runs import read_records
from sftdebug.overfit import FactSetConfig, OverfitConfig, OverfitEvalConfig, OverfitResult, make, run, run_eval


def test_make_writes_what_the_command_writes(tmp_path: Path) -> None:
    fact_set = make(FactSetConfig(out=str(tmp_path / "api"), n_facts=8, relations=("likes", "admires"), seed=3))
    proc = sftdebug("overfit", "make", "--n-facts", "8", "--relations", "likes,admires", "--seed", "3",
                    "--out", str(tmp_path / "cli"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    files = sorted(p.name for p in (tmp_path / "cli").iterdir())
    assert sorted(p.name for p in fact_set.path.iterdir()) == files and "tokens.json" in files
    for name in files:
        assert (fact_set.path / name).read_text() == (tmp_path / "cli" / name).read_text(), name
    assert len(fact_set.info["tokens"]) > 0


@pytest.mark.slow
@pytest.mark.xdist_group("vllm")  # shares tiny_sweep with the vLLM tests: built once, on one worker
def test_eval_library_call_writes_what_the_command_writes(tiny_sweep: Path, tmp_path: Path) -> None:
    model, facts = str(tiny_sweep / "e25-lr0.003" / "model"), str(tiny_sweep / "facts")
    result = run_eval(OverfitEvalConfig(model=model, facts=facts, out=str(tmp_path / "api")))
    assert isinstance(result, OverfitResult) and result.report is not None and result.report.is_file()
    proc = sftdebug("overfit", "eval", "--model", model, "--facts", facts, "--out", str(tmp_path / "cli"))
    assert proc.returncode == 0, proc.stderr
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert json.loads((result.path / "summary.json").read_text()) == cli
    assert result.summary["recall"]["trained"] == cli["recall"]["trained"] >= 0.8
    assert read_records(result.path) == read_records(tmp_path / "cli")
    api_args = json.loads((result.path / "config.json").read_text())["args"]
    cli_args = json.loads((tmp_path / "cli" / "config.json").read_text())["args"]
    assert api_args.keys() == cli_args.keys()


def test_library_calls_refuse_bad_settings_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(UsageError, match="--n-facts"):
        make(FactSetConfig(out=str(out), n_facts=1))
    with pytest.raises(UsageError, match="--epochs"):
        run(OverfitConfig(base=str(tmp_path), epochs=(0, 3), out=str(out)))
    with pytest.raises(UsageError, match="not a lab model"):
        run(OverfitConfig(base=str(tmp_path), out=str(out)))
    with pytest.raises(UsageError, match="not a fact set"):
        run_eval(OverfitEvalConfig(model="m", facts=str(tmp_path / "no-facts"), out=str(out)))
    make(FactSetConfig(out=str(tmp_path / "facts"), n_facts=4))
    with pytest.raises(UsageError, match="--probes FILE"):
        run_eval(OverfitEvalConfig(model="m", facts=str(tmp_path / "facts"), base=str(tmp_path), out=str(out)))
    assert not out.exists()
