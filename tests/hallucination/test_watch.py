"""`sftdebug watch`: checkpoints that appear one by one in a folder are each evaluated exactly once into one
trend run sharing its base phase, and a watch killed with SIGKILL resumes without redoing a finished one."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sftdebug.hallucination import HallucinationConfig
from sftdebug.hallucination.watch import WatchConfig, watch


@pytest.fixture(scope="module")
def few_probes(lab: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("probes") / "probes.jsonl"
    path.write_text("\n".join((lab / "probes.jsonl").read_text().splitlines()[:24]) + "\n")
    return path


def _arrive(source: Path, folder: Path, gap: float) -> None:
    """The lab's checkpoints appear one by one, each whole at once (copied aside, then renamed in)."""
    for ckpt in sorted(source.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1])):
        time.sleep(gap)
        shutil.copytree(ckpt, folder / f".{ckpt.name}")
        (folder / f".{ckpt.name}").rename(folder / ckpt.name)


@pytest.mark.slow  # real time: checkpoints arrive 1 s apart and the watch waits 6 s idle, per source
@pytest.mark.parametrize("source", ["sft-conflict-checkpoints", "sft-conflict-lora-checkpoints"])
def test_checkpoints_appearing_one_by_one_are_each_evaluated_once(
    lab: Path, few_probes: Path, tmp_path: Path, source: str
) -> None:
    """Full checkpoints, and PEFT adapter checkpoints (their recorded base, relative to the lab, is not there
    once copied: the run's --base is used)."""
    folder = tmp_path / "train"
    folder.mkdir()
    (folder / "checkpoint-7").mkdir()  # a checkpoint still being written: no weights yet, never taken
    steps = sorted(int(p.name.split("-")[1]) for p in (lab / source).glob("checkpoint-*"))
    arriving = threading.Thread(target=_arrive, args=(lab / source, folder, 1.0))
    arriving.start()
    run = HallucinationConfig(base=str(lab / "base"), sft="", probes=[str(few_probes)], out=str(tmp_path / "w"))
    result = watch(WatchConfig(str(folder), run, max_probes=None, until_idle=6, interval=0.3, settle=0))
    arriving.join()
    assert [c["step"] for c in result.summary["checkpoints"]] == steps
    runs = sorted(p.name for p in (tmp_path / "w" / "checkpoints").iterdir())
    assert runs == sorted(f"{i:02d}-checkpoint-{s}" for i, s in enumerate(steps))
    for sub in runs:  # exactly once: one answer per probe in each checkpoint's journal
        lines = (tmp_path / "w" / "checkpoints" / sub / "sft.jsonl").read_text().splitlines()
        assert len(lines) == 24
    assert result.report.is_file() and result.summary["n_probes"] == 24


@pytest.mark.slow  # two `sftdebug watch` processes (torch and the models loaded in each), one killed mid-run
def test_a_killed_watch_resumes_without_redoing_a_finished_checkpoint(
    lab: Path, few_probes: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "train"
    shutil.copytree(lab / "sft-conflict-checkpoints", folder)
    out = tmp_path / "w"
    argv = [sys.executable, "-m", "sftdebug", "watch", str(folder), "--base", str(lab / "base"), "--probes",
            str(few_probes), "--max-probes", "24", "--until-idle", "0", "--settle", "0", "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = out / "checkpoints" / "00-checkpoint-38" / "summary.json"
    deadline = time.monotonic() + 300
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert first.exists(), "the first checkpoint finished before the kill"
    before = (first.parent / "sft.jsonl").read_bytes()
    done = subprocess.run([*argv, "--resume"], capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert [c["name"] for c in summary["checkpoints"]] == [
        "00-checkpoint-38", "01-checkpoint-75", "02-checkpoint-112", "03-checkpoint-150"
    ]  # fmt: skip
    assert (first.parent / "sft.jsonl").read_bytes() == before  # not evaluated again
