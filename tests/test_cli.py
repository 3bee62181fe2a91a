"""The command line: one-line errors with exit 2, and a killed run resumed without loss or duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import one_line_error, sftdebug

from sftdebug.core.runs import read_records


def test_missing_model_folder(tmp_path: Path) -> None:
    one_line_error(
        sftdebug("generate", "--model", "./no/such/model", "--prompt", "x", "--out", str(tmp_path / "r")),
        "./no/such/model",
        "does not exist",
    )
    assert not (tmp_path / "r").exists(), "nothing is written when the model cannot load"


def test_hub_id_offline(tmp_path: Path) -> None:
    one_line_error(
        sftdebug("generate", "--model", "nobody/no-such-model", "--prompt", "x", "--out", str(tmp_path)),
        "nobody/no-such-model",
        "offline",
    )


def test_bad_prompt_line_names_file_and_line(tmp_path: Path, lab: Path) -> None:
    f = tmp_path / "p.jsonl"
    f.write_text('{"prompt": "ok"}\n\n{"prompt": 3}\n')
    one_line_error(
        sftdebug("generate", "--model", str(lab / "base"), "--prompts", str(f), "--out", str(tmp_path / "r")),
        f"{f}:3",
        "prompt",
    )


def test_chat_on_base_model_says_it_has_no_template(tmp_path: Path, lab: Path) -> None:
    one_line_error(
        sftdebug("generate", "--model", str(lab / "base"), "--prompt", "hi", "--chat", "--out", str(tmp_path)),
        "no chat template",
    )


def test_bad_flag_value(tmp_path: Path, lab: Path) -> None:
    one_line_error(
        sftdebug(
            "generate", "--model", str(lab / "base"), "--prompt", "hi", "--temperature", "-1", "--out", str(tmp_path)
        ),
        "temperature",
    )


def test_pickled_weights_are_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04")
    one_line_error(
        sftdebug("generate", "--model", str(tmp_path), "--prompt", "x", "--out", str(tmp_path / "r")), "safetensors"
    )


@pytest.mark.slow
def test_killed_run_resumes_with_every_record_once(tmp_path: Path, lab: Path, probes: list[dict]) -> None:
    prompts = tmp_path / "prompts.jsonl"
    n = 600
    prompts.write_text(
        "".join(
            json.dumps(
                {"id": f"q{i}", "messages": [{"role": "user", "content": probes[i % len(probes)]["question"][0]}]}
            )
            + "\n"
            for i in range(n)
        )
    )
    out = tmp_path / "run"
    args = [
        "generate",
        "--model",
        str(lab / "sft-healthy"),
        "--prompts",
        str(prompts),
        "--out",
        str(out),
        "--max-new-tokens",
        "24",
        "--batch-size",
        "8",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sftdebug", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    records = out / "records.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not records.exists() or records.read_text().count("\n") < 64):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = records.read_text().count("\n")
    assert 0 < before < n, f"kill landed at {before} records; the test needs a run cut in the middle"
    assert not (out / "summary.json").exists()
    done = sftdebug(*args, "--resume")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in records.read_text().splitlines()]
    keys = [r["key"] for r in lines]
    assert len(keys) == len(set(keys)) == n, "every prompt recorded exactly once"
    assert len(read_records(out)) == n
    assert json.loads((out / "summary.json").read_text())["n_prompts"] == n
