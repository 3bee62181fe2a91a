"""The library call (`sftdebug.latency.run`) is the command: same files, same fit, same errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import sftdebug
from stub_openai import StubServer

from sftdebug.core.errors import UsageError
from sftdebug.core.runs import read_records
from sftdebug.engines.config import EngineConfig
from sftdebug.latency import LatencyConfig, LatencyResult, run

GRID = {"prompt_lens": (16, 64, 256), "output_lens": (1, 8, 24), "repeats": 2, "warmup": 1}


def test_library_call_writes_what_the_command_writes(tmp_path: Path) -> None:
    with StubServer(model="stub", b0=0.002, b1=0.00002, k=0.0005) as stub:
        engine = EngineConfig(engine="openai", endpoint=stub.url, concurrency=1)
        result = run(LatencyConfig(model="stub", **GRID, engine=engine, out=str(tmp_path / "api")))  # type: ignore[arg-type]
        argv = ["--prompt-lens", "16,64,256", "--output-lens", "1,8,24", "--repeats", "2", "--warmup", "1"]
        proc = sftdebug("latency", "--engine", "openai", "--endpoint", stub.url, "--model", "stub", *argv,
                        "--out", str(tmp_path / "cli"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert isinstance(result, LatencyResult) and result.report is not None and result.report.is_file()
    assert sorted(p.name for p in result.path.iterdir()) == sorted(p.name for p in (tmp_path / "cli").iterdir())
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert json.loads((result.path / "summary.json").read_text()).keys() == cli.keys()
    assert result.summary["fit"]["per_token_s"] == pytest.approx(cli["fit"]["per_token_s"], rel=0.5)
    assert {r["key"] for r in read_records(result.path)} == {r["key"] for r in read_records(tmp_path / "cli")}
    assert len(result.records()) == 18
    api_args = json.loads((result.path / "config.json").read_text())["args"]
    cli_args = json.loads((tmp_path / "cli" / "config.json").read_text())["args"]
    assert {k: v for k, v in api_args.items() if k not in ("out", "endpoint")} == {
        k: v for k, v in cli_args.items() if k not in ("out", "endpoint")
    }


def test_library_call_refuses_bad_settings_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(UsageError, match="--repeats"):
        run(LatencyConfig(model="m", repeats=0, out=str(out)))
    with pytest.raises(UsageError, match="--prompt-lens"):
        run(LatencyConfig(model="m", prompt_lens=(0, 16), out=str(out)))
    with pytest.raises(UsageError, match="not a run folder"):
        run(LatencyConfig(model="m", baseline=str(tmp_path), out=str(out)))
    with pytest.raises(UsageError, match="--concurrency"):
        run(
            LatencyConfig(
                model="m", engine=EngineConfig(engine="openai", endpoint="http://x", concurrency=0), out=str(out)
            )
        )
    assert not out.exists()
