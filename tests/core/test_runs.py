from __future__ import annotations

import json
from pathlib import Path

import pytest

from sftdebug.core.errors import UsageError
from sftdebug.core.runs import RunFolder, load_run, read_records


def test_records_are_flushed_versioned_and_loadable(tmp_path: Path) -> None:
    with RunFolder.open(tmp_path, "generate", {"model": "m", "seed": 1}) as run:
        run.append([{"key": "a", "x": 1}, {"key": "b", "x": 2, "nested": {"y": 3}}])
        # visible on disk before close: an interrupted run loses nothing already appended
        lines = (tmp_path / "records.jsonl").read_text().splitlines()
        assert [json.loads(line)["key"] for line in lines] == ["a", "b"]
        run.write_summary({"n": 2})
    df = load_run(tmp_path)
    assert list(df["key"]) == ["a", "b"]
    assert df["nested.y"].iloc[1] == 3
    assert (df["schema_version"] == 1).all()
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["kind"] == "generate" and config["seed"] == 1 and "python" in config["versions"]


def test_existing_run_needs_resume_or_overwrite(tmp_path: Path) -> None:
    RunFolder.open(tmp_path, "generate", {}).close()
    (tmp_path / "records.jsonl").write_text('{"key": "a"}\n')
    with pytest.raises(UsageError, match="--resume"):
        RunFolder.open(tmp_path, "generate", {})
    RunFolder.open(tmp_path, "generate", {}, overwrite=True).close()
    assert (tmp_path / "records.jsonl").read_text() == ""


def test_resume_cuts_torn_line_skips_done_and_retries_failed(tmp_path: Path) -> None:
    with RunFolder.open(tmp_path, "generate", {"model": "m"}) as run:
        run.append([{"key": "a"}, {"key": "b", "status": "failed"}])
    with (tmp_path / "records.jsonl").open("a") as fh:
        fh.write('{"key": "c", "tex')  # killed mid-write
    with RunFolder.open(tmp_path, "generate", {"model": "m"}, resume=True, identity=["model"]) as run:
        assert run.is_done("a") and not run.is_done("b") and not run.is_done("c")
        run.append([{"key": "b"}, {"key": "c"}])
    assert sorted(r["key"] for r in read_records(tmp_path)) == ["a", "b", "c"]
    for line in (tmp_path / "records.jsonl").read_text().splitlines():
        json.loads(line)  # every line whole again


def test_resume_refuses_other_model_or_kind(tmp_path: Path) -> None:
    RunFolder.open(tmp_path, "generate", {"model": "m"}).close()
    with pytest.raises(UsageError, match="--model was 'm'"):
        RunFolder.open(tmp_path, "generate", {"model": "other"}, resume=True, identity=["model"])
    with pytest.raises(UsageError, match="cannot resume"):
        RunFolder.open(tmp_path, "latency", {"model": "m"}, resume=True)


def test_secrets_never_written(tmp_path: Path) -> None:
    RunFolder.open(tmp_path, "generate", {"api_key": "sk-secret", "model": "m"}).close()
    assert "sk-secret" not in (tmp_path / "config.json").read_text()


def test_bad_records_line_is_named(tmp_path: Path) -> None:
    (tmp_path / "records.jsonl").write_text('{"key": "a"}\nnot json\n{"key": "b"}\n')
    with pytest.raises(UsageError, match=r"records.jsonl:2"):
        read_records(tmp_path)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--api-key", "sk-1", "--model", "m"], ["--api-key", "***", "--model", "m"]),
        (["--api-key=sk-1", "--x"], ["--api-key=***", "--x"]),
        (["--model", "--api-key"], ["--model", "--api-key"]),
        (["--api", "sk-1", "--model", "m"], ["--api", "***", "--model", "m"]),  # abbreviations, were they accepted
        (["--api=sk-1"], ["--api=***"]),
        (["--api-k", "sk-1"], ["--api-k", "***"]),
        (["--hf-token=hf_1", "--password", "pw"], ["--hf-token=***", "--password", "***"]),
        (["--endpoint", "http://u:sk-1@h:8000/v1"], ["--endpoint", "http://***@h:8000/v1"]),
        (["--sft-endpoint=https://h/v1?api_key=sk-1&x=2"], ["--sft-endpoint=https://h/v1?api_key=***&x=2"]),
        (["--top-p", "0.5", "--model", "a/b"], ["--top-p", "0.5", "--model", "a/b"]),
    ],
)
def test_secret_flags_are_redacted_from_the_command(argv: list[str], expected: list[str]) -> None:
    from sftdebug.core.runs import redact_argv

    assert redact_argv(argv) == expected
