"""The library call (`sftdebug.hallucination.run`) is the command: same summary, same files, same errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import sftdebug

from sftdebug.core.errors import UsageError
from sftdebug.engines.config import EngineConfig
from sftdebug.hallucination import HallucinationConfig, HallucinationResult, run


@pytest.mark.slow
def test_library_call_returns_the_summary_the_command_writes(lab: Path, tmp_path: Path) -> None:
    base, sft = str(lab / "base"), str(lab / "sft-conflict")
    result = run(HallucinationConfig(base=base, sft=sft, limit=40, out=str(tmp_path / "api")))
    assert isinstance(result, HallucinationResult) and not result.trend
    proc = sftdebug("hallucination", "--base", base, "--sft", sft, "--limit", "40", "--out", str(tmp_path / "cli"))
    assert proc.returncode == 0, proc.stderr
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert json.loads((result.path / "summary.json").read_text()) == cli
    assert {k: v for k, v in result.summary.items() if k in cli} == {k: cli[k] for k in result.summary}
    assert result.report is not None and result.report.is_file()
    df = result.records()
    assert len(df) == 40 and {"probe_id", "verdict"} <= set(df.columns)
    config = json.loads((result.path / "config.json").read_text())["args"]
    assert config["base"] == base and config["engine"] == "hf" and "api_key" not in config


def test_library_call_refuses_bad_settings_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(UsageError, match="--shots"):
        run(HallucinationConfig(base="b", sft="s", shots=0, out=str(out)))
    with pytest.raises(UsageError, match="--batch-size"):
        HallucinationConfig(base="b", sft="s", engine=EngineConfig(batch_size=0))
    with pytest.raises(UsageError, match="matches no file"):
        run(HallucinationConfig(base="b", sft=str(tmp_path / "none-*"), out=str(out)))
    assert not out.exists()
