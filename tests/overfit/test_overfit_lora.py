"""`overfit run --method lora`: the special-token fact sweep trained as PEFT LoRA adapters (the new tokens' rows
trained beside them), evaluated through the adapter folders, on the test lab."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import one_line_error, sftdebug


@pytest.mark.slow
def test_lora_sweep_memorises_through_adapter_folders(lab: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    proc = sftdebug(
        "overfit", "run", "--base", str(lab / "base"), "--epochs", "25", "--lrs", "1e-2", "--n-facts", "8",
        "--method", "lora", "--lora-rank", "8", "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    [setting] = json.loads((out / "summary.json").read_text())["settings"]
    folder = out / setting["key"]
    model = folder / "model"
    assert (model / "adapter_config.json").is_file() and not (model / "config.json").exists(), "an adapter folder"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["train"]["method"] == "lora" and summary["train"]["lora"]["rank"] == 8
    # the entity tokens exist only in SFT: without their rows trained no fact could be learned at all
    assert summary["recall"]["trained"] >= 0.9 and summary["recall"]["control"] == 0.0
    assert summary["embeddings"]["moved"] is True


def test_lora_flags_are_checked_before_anything_is_written(lab: Path, tmp_path: Path) -> None:
    argv = ["overfit", "run", "--base", str(lab / "base"), "--method", "lora", "--out", str(tmp_path / "o")]
    one_line_error(sftdebug(*argv, "--lora-rank", "0"), "--lora-rank")
    assert not (tmp_path / "o").exists()
