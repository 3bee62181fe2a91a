"""Shared fixtures: the `test`-size lab, trained once per source version and reused by every test.

The lab is cached in `.sftdebug-cache/` under a key made from the sources that shape it, so editing the
trainer, the world or what its calibration runs store rebuilds it, and a fresh checkout (CI) builds it once
(about 2–3 min on 2 cores, its risk calibration runs included; lab.json's build_seconds has the figure). Numerics
are pinned before anything imports torch (core/numerics.py), so every machine trains the same lab.
SFTDEBUG_LAB_SEED=N runs the suite on the lab of another seed (benchmarks/lab_spread.py: do the thresholds hold
on any lab the recipe can produce?).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

import pytest

from sftdebug.core.numerics import pin

pin()  # before torch is imported anywhere in the test session
ROOT = Path(__file__).resolve().parents[1]
# what shapes the lab, its calibration runs included (the risk labels and hallucination verdicts they store, made
# through the hf engine): a change to any of these rebuilds it
LAB_SOURCES = ["lab/build.py", "lab/world.py", "training/trainer.py", "core/labs.py", "sftdata/encode.py", "sftdata/formats.py",
               "core/chat.py", "core/numerics.py", "core/stats.py", "risk/labels.py", "risk/phases.py",
               "risk/summary.py", "facts/match.py", "hallucination/verdicts.py", "hallucination/elicit.py",
               "hallucination/phases.py", "hallucination/recheck.py", "facts/probes.py", "engines/base.py",
               "engines/hf.py",
               "engines/local.py"]  # fmt: skip

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the network
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):  # workers share the cores: engines run one torch thread each
    os.environ.setdefault("SFTDEBUG_THREADS", "1")


def _lab_key() -> str:
    h = hashlib.sha256()
    for name in LAB_SOURCES:
        h.update(name.encode() + (ROOT / "sftdebug" / name).read_bytes())
    return h.hexdigest()[:12]


@pytest.fixture(scope="session")
def lab() -> Path:
    from sftdebug.lab.build import build_lab, lab_is_built

    seed = int(os.environ.get("SFTDEBUG_LAB_SEED", "0"))
    suffix = "" if seed == 0 else f"-seed{seed}"
    root = ROOT / ".sftdebug-cache" / f"lab-test-{_lab_key()}{suffix}"
    root.parent.mkdir(exist_ok=True)
    # one builder at a time: two test sessions (worktrees sharing the cache) wait for each other, not collide
    with open(root.parent / f"{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not lab_is_built(root, "test"):
            build_lab(root, "test", seed=seed)
    return root


@pytest.fixture(scope="session")
def probes(lab: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in (lab / "probes.jsonl").read_text().splitlines()]


@pytest.fixture(scope="session")
def engines(lab: Path) -> dict:
    """One loaded engine per lab model, shared (loading is the slow part)."""
    from sftdebug.engines import load_engine

    names = ["base", "sft-healthy", "sft-conflict", "sft-undertrained", "sft-hot"]
    return {n: load_engine("hf", str(lab / n)) for n in names}


@pytest.fixture(scope="session")
def tiny_sweep(lab: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`overfit run` on the lab base, two settings (2 and 25 epochs), evaluated with the HF engine; shared by the
    overfit test and the cross-engine test."""
    from helpers import sftdebug

    out = tmp_path_factory.mktemp("sweep") / "run"
    argv = ["overfit", "run", "--base", str(lab / "base"), "--epochs", "2,25", "--lrs", "3e-3", "--n-facts", "8"]
    proc = sftdebug(*argv, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out
