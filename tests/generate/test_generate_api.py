"""The library call (`sftdebug.generate.run`) is the command: same records, same summary, same errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import sftdebug
from stub_openai import StubServer

from sftdebug.core.errors import UsageError
from sftdebug.core.runs import read_records
from sftdebug.engines.config import EngineConfig
from sftdebug.generate import GenerateConfig, GenerateResult, run


def test_library_call_writes_what_the_command_writes(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"fact {i} is"}) + "\n" for i in range(5)))
    with StubServer(model="stub") as stub:
        engine = EngineConfig(engine="openai", endpoint=stub.url)
        result = run(GenerateConfig(model="stub", prompts=str(prompts), n=2, engine=engine, out=str(tmp_path / "api")))
        proc = sftdebug("generate", "--engine", "openai", "--endpoint", stub.url, "--model", "stub",
                        "--prompts", str(prompts), "--n", "2", "--out", str(tmp_path / "cli"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert isinstance(result, GenerateResult) and result.report is not None and result.report.is_file()
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert json.loads((result.path / "summary.json").read_text()) == cli
    assert result.summary["n_samples"] == cli["n_samples"] == 10
    timing = ("ttft_s", "e2e_s")
    api_records = [{k: v for k, v in r.items() if k not in timing} for r in read_records(result.path)]
    assert api_records == [{k: v for k, v in r.items() if k not in timing} for r in read_records(tmp_path / "cli")]
    assert len(result.records()) == 10
    api_args = json.loads((result.path / "config.json").read_text())["args"]
    cli_args = json.loads((tmp_path / "cli" / "config.json").read_text())["args"]
    assert api_args.keys() == cli_args.keys() and api_args["stop"] == [] and api_args["engine"] == "openai"


def test_library_call_refuses_bad_settings_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(UsageError, match="exactly one of --prompts"):
        run(GenerateConfig(model="m", out=str(out)))
    with pytest.raises(UsageError, match="temperature"):
        run(GenerateConfig(model="m", prompt="hi", temperature=-1, out=str(out)))
    with pytest.raises(UsageError, match="no such file"):
        run(GenerateConfig(model="m", prompts=str(tmp_path / "none.jsonl"), out=str(out)))
    with pytest.raises(UsageError, match="does not exist"):
        run(GenerateConfig(model=str(tmp_path / "no-model"), prompt="hi", out=str(out)))
    assert not out.exists()
