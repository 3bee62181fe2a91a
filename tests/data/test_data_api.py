"""The library call (`sftdebug.data.run`) is the command: same summary, same records, same errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import sftdebug

from sftdebug.core.errors import UsageError
from sftdebug.core.runs import read_records
from sftdebug.data import DataConfig, DataResult, run


def test_library_call_writes_what_the_command_writes(lab: Path, tmp_path: Path) -> None:
    data, tok = str(lab / "sft_data.jsonl"), str(lab / "sft-healthy")
    result = run(DataConfig(file=data, tokenizer=tok, max_len=96, out=str(tmp_path / "api")))
    assert isinstance(result, DataResult) and result.report is not None and result.report.is_file()
    proc = sftdebug("data", data, "--tokenizer", tok, "--max-len", "96", "--out", str(tmp_path / "cli"))
    assert proc.returncode == (1 if result.failed else 0), proc.stderr
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert json.loads((result.path / "summary.json").read_text()) == cli
    assert result.rows == read_records(result.path) == read_records(tmp_path / "cli")
    assert len(result.records()) == len(result.rows) > 0
    api_args = json.loads((result.path / "config.json").read_text())["args"]
    cli_args = json.loads((tmp_path / "cli" / "config.json").read_text())["args"]
    assert {k: v for k, v in api_args.items() if k != "out"} == {k: v for k, v in cli_args.items() if k != "out"}


def test_library_call_refuses_bad_settings_before_writing(tmp_path: Path) -> None:
    out, data = tmp_path / "run", tmp_path / "data.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A"}]}\n')
    with pytest.raises(UsageError, match="--max-len"):
        run(DataConfig(file=str(data), tokenizer="t", max_len=0, out=str(out)))
    with pytest.raises(UsageError, match="--max-bad-rows"):
        run(DataConfig(file=str(data), tokenizer="t", max_bad_rows=2, out=str(out)))
    with pytest.raises(UsageError, match="--loss-on"):
        run(DataConfig(file=str(data), tokenizer="t", loss_on="first", out=str(out)))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="no such file"):
        run(DataConfig(file=str(tmp_path / "none.jsonl"), tokenizer="t", out=str(out)))
    assert not out.exists()
