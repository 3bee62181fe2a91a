"""`--resume` for every command that writes a run: the arguments a run was started with are accepted again (a
tuple flag such as --prompt-lens was saved as a JSON list and refused, exit 2), and a resumed run over an endpoint
finishes with every record once. Needs no lab: parsing only, and the stub server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import sftdebug
from stub_openai import StubServer

from sftdebug.cli import build_parser
from sftdebug.core.runs import RunFolder, read_records

# (kind written, argv): every command that opens a run folder, with its flags of every type (tuples, floats, lists)
RUNS = [
    ("generate", ["generate", "--model", "m", "--prompt", "x", "--stop", "a", "--top-p", "0.5"]),
    ("hallucination", ["hallucination", "--base", "b", "--sft", "s", "--probes", "p.jsonl", "--samples", "2"]),
    ("latency", ["latency", "--model", "m", "--prompt-lens", "8,32", "--output-lens", "1,4"]),
    ("latency", ["latency", "--model", "m"]),  # the default tuples (16, 64, 256, 1024) of the issue
    ("risk", ["risk", "--base", "b", "--data", "d.jsonl", "--limit", "5"]),
    ("data", ["data", "d.jsonl", "--tokenizer", "t", "--max-len", "64"]),
    ("overfit", ["overfit", "eval", "--model", "m", "--facts", "f"]),
    ("overfit_sweep", ["overfit", "run", "--base", "b", "--epochs", "1,3", "--lrs", "1e-3,3e-3"]),
]


@pytest.mark.parametrize(("kind", "argv"), RUNS, ids=[" ".join(a[:2]) for _, a in RUNS])
def test_every_argument_survives_config_json(tmp_path: Path, kind: str, argv: list[str]) -> None:
    """Each parsed argument, saved in config.json and read back, is equal to itself parsed again."""
    args = vars(build_parser().parse_args([*argv, "--out", str(tmp_path)]))
    names = [k for k in args if k != "run"]
    RunFolder.open(tmp_path, kind, args, identity=names).close()
    RunFolder.open(tmp_path, kind, args, resume=True, identity=names).close()


def _records(folder: Path) -> list[str]:
    return [json.loads(line)["key"] for line in (folder / "records.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(
    "argv",
    [
        ["latency", "--model", "stub", "--prompt-lens", "4,8", "--output-lens", "1,3", "--repeats", "2"],
        ["latency", "--model", "stub", "--output-lens", "1,2", "--repeats", "1", "--warmup", "0"],
        ["generate", "--model", "stub", "--prompt", "hello there", "--n", "2"],
        ["hallucination", "--base", "stub", "--sft", "stub", "--builtin", "en", "--limit", "6"],
    ],
    ids=["latency", "latency-default-prompts", "generate", "hallucination"],
)
def test_a_finished_or_cut_run_resumes(tmp_path: Path, argv: list[str]) -> None:
    """A run resumed with the same arguments is accepted (exit 0) and adds no record twice; cut to its first
    record, it completes the rest."""
    out = tmp_path / "run"
    with StubServer(model="stub") as stub:
        run = [*argv, "--engine", "openai", "--endpoint", stub.url, "--out", str(out)]
        first = sftdebug(*run)
        assert first.returncode == 0, first.stderr
        keys = _records(out)
        again = sftdebug(*run, "--resume")
        assert again.returncode == 0, again.stderr
        assert _records(out) == keys, "a finished run resumed recomputes nothing"
        lines = (out / "records.jsonl").read_text().splitlines(keepends=True)
        (out / "records.jsonl").write_text(lines[0])
        (out / "summary.json").unlink()
        cut = sftdebug(*run, "--resume")
        assert cut.returncode == 0, cut.stderr
        assert sorted(r["key"] for r in read_records(out)) == sorted(keys)


@pytest.mark.slow
def test_kill_9_at_random_points_loses_nothing_saved_and_duplicates_nothing(tmp_path: Path) -> None:
    """Parts are saved every few seconds now, not per 64 items: killed at seeded random moments, each run has
    saved what it finished, and the resumed run ends with every prompt recorded once, every line whole."""
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    n = 240
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps({"id": i, "prompt": f"prompt {i}"}) + "\n" for i in range(n)))
    out = tmp_path / "run"
    rng = random.Random(7)
    with StubServer(model="stub", k=0.01) as stub:  # 5 tokens: ~50 ms a request, 2 in flight
        argv = ["generate", "--engine", "openai", "--endpoint", stub.url, "--model", "stub", "--prompts",
                str(prompts), "--concurrency", "2", "--out", str(out)]  # fmt: skip
        saved = 0
        for kill in range(3):
            cmd = [sys.executable, "-m", "sftdebug", *argv, *(["--resume"] if kill else [])]
            served = stub._tickets
            proc = subprocess.Popen(cmd, env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # killed a random moment after its first request, not after its start: a busy machine can take longer
            # to start the command than a whole round of requests lasts (all three kills once landed before any)
            deadline = time.monotonic() + 120
            while stub._tickets == served and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.8, 1.8))  # at least the first part (8 items), at most it and one chunk (64)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            now = len(read_records(out)) if (out / "records.jsonl").exists() else 0
            assert now >= saved, "nothing saved is lost"
            saved = now
        assert 0 < saved < n, f"the kills landed at {saved} records; the test needs runs cut in the middle"
        done = sftdebug(*argv, "--resume")
    assert done.returncode == 0, done.stderr
    keys = [json.loads(line)["key"] for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(keys) == len(set(keys)) == n, "every prompt recorded exactly once"
