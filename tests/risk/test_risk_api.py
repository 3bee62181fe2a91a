"""The library call (`sftdebug.risk.run`) is the command: same summary, same records, same copies, same errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import sftdebug

from sftdebug.core.errors import UsageError
from sftdebug.core.runs import read_records
from sftdebug.engines.config import EngineConfig
from sftdebug.risk import RiskConfig, RiskResult, run


@pytest.mark.slow
def test_library_call_writes_what_the_command_writes(lab: Path, tmp_path: Path) -> None:
    base, data = str(lab / "base"), str(lab / "data" / "sft-conflict.jsonl")
    result = run(
        RiskConfig(
            base=base,
            data=data,
            limit=24,
            samples=2,
            drop="conflicts",
            write_filtered=str(tmp_path / "api-filtered.jsonl"),
            out=str(tmp_path / "api"),
        )
    )
    assert isinstance(result, RiskResult)
    proc = sftdebug("risk", "--base", base, "--data", data, "--limit", "24", "--samples", "2", "--drop", "conflicts",
                    "--write-filtered", str(tmp_path / "cli-filtered.jsonl"), "--out", str(tmp_path / "cli"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert json.loads((result.path / "summary.json").read_text()) == cli == result.summary | {"kind": "risk",
                                                                                               "schema_version": 1}  # fmt: skip
    assert read_records(result.path) == read_records(tmp_path / "cli")
    assert (tmp_path / "api-filtered.jsonl").read_text() == (tmp_path / "cli-filtered.jsonl").read_text()
    assert result.dropped == sum(r["label"] == "conflicts" for r in read_records(result.path)) > 0
    assert f"dropped {result.dropped} rows (conflicts)" in proc.stdout + proc.stderr
    assert result.relabelled is None and result.report is not None and result.report.is_file()
    assert len(result.records()) == 24
    api_args = json.loads((result.path / "config.json").read_text())["args"]
    cli_args = json.loads((tmp_path / "cli" / "config.json").read_text())["args"]
    assert api_args.keys() == cli_args.keys() and api_args["probes"] == [str(lab / "probes.jsonl")]
    assert "api_key" not in api_args and "sft_endpoint" not in api_args


def test_library_call_refuses_bad_settings_before_writing(tmp_path: Path) -> None:
    out, data = tmp_path / "run", tmp_path / "data.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A"}]}\n')
    with pytest.raises(UsageError, match="--shots"):
        run(RiskConfig(base="b", data=str(data), shots=0, out=str(out)))
    with pytest.raises(UsageError, match="--drop"):
        run(RiskConfig(base="b", data=str(data), drop="everything", out=str(out)))
    with pytest.raises(UsageError, match="overwrite the input"):
        run(RiskConfig(base="b", data=str(data), write_relabelled=str(data), out=str(out)))
    with pytest.raises(UsageError, match="--threads"):
        RiskConfig(base="b", data=str(data), engine=EngineConfig(threads=0))
    with pytest.raises(UsageError, match="no such file"):
        run(RiskConfig(base="b", data=str(tmp_path / "none.jsonl"), out=str(out)))
    assert not out.exists()
