"""The library call (`sftdebug.parity.run`) is the command: same summary, same records, same errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import sftdebug

from sftdebug.core.errors import UsageError
from sftdebug.core.runs import read_records
from sftdebug.parity import ParityConfig, ParityResult, run


def test_library_call_writes_what_the_command_writes(lab: Path, tmp_path: Path) -> None:
    data, tok = str(lab / "sft_data.jsonl"), str(lab / "sft-healthy")
    result = run(ParityConfig(data=data, tokenizer=tok, serve_tokenizer=tok, limit=10, out=str(tmp_path / "api")))
    assert isinstance(result, ParityResult) and result.report is not None and result.report.is_file()
    proc = sftdebug("parity", "--data", data, "--tokenizer", tok, "--serve-tokenizer", tok, "--limit", "10",
                    "--out", str(tmp_path / "cli"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert json.loads((result.path / "summary.json").read_text()) == cli
    assert result.summary["rows"] == 10 and result.summary["rows_differing"] == 0
    assert result.rows == read_records(result.path) == read_records(tmp_path / "cli")
    assert len(result.records()) == 10
    api_args = json.loads((result.path / "config.json").read_text())["args"]
    cli_args = json.loads((tmp_path / "cli" / "config.json").read_text())["args"]
    assert api_args.keys() == cli_args.keys() and "api_key" not in api_args


def test_library_call_refuses_bad_settings_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(UsageError, match="exactly one serving side"):
        run(ParityConfig(data="d", tokenizer="t", out=str(out)))
    with pytest.raises(UsageError, match="--model NAME"):
        run(ParityConfig(data="d", tokenizer="t", endpoint="http://127.0.0.1:9", out=str(out)))
    with pytest.raises(UsageError, match="--limit"):
        run(ParityConfig(data="d", tokenizer="t", serve_tokenizer="s", limit=0, out=str(out)))
    with pytest.raises(UsageError, match="--template"):
        run(ParityConfig(data="d", tokenizer="t", serve_tokenizer="s", template=str(tmp_path / "none.jinja")))
    assert not out.exists()
