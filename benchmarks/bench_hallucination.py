"""Probes per second of `sftdebug hallucination` on the lab: batched vs one prompt at a time.

Both runs go through the real pipeline (base phase, SFT phase, verdicts) on the same probes, in one process.
"""

from __future__ import annotations

import tempfile
import time
from functools import partial

from common import lab

from sftdebug.core.runs import RunFolder
from sftdebug.engines import load_engine
from sftdebug.facts.probes import load_probes
from sftdebug.hallucination.phases import HallucinationSettings, run_hallucination

N_PROBES = 200


def _probes_per_second(batch_size: int, probes: list, root) -> float:
    with tempfile.TemporaryDirectory() as tmp, RunFolder.open(tmp, "hallucination", {}) as run:
        start = time.perf_counter()
        run_hallucination(
            partial(load_engine, "hf", str(root / "base"), batch_size=batch_size),
            partial(load_engine, "hf", str(root / "sft-healthy"), batch_size=batch_size),
            probes,
            HallucinationSettings(),
            run,
            lambda *a: None,
        )
        return len(probes) / (time.perf_counter() - start)


def run() -> str:
    root = lab()
    probes = load_probes(root / "probes.jsonl")[:N_PROBES]
    _probes_per_second(32, probes[:16], root)  # warm-up: first model load, allocator, thread pools
    single = _probes_per_second(1, probes, root)
    batched = _probes_per_second(32, probes, root)
    return (
        "## hallucination: probes per second (test lab, base + sft-healthy, greedy, candidates scored)\n\n"
        "| mode | probes/s |\n|---|---|\n"
        f"| one prompt at a time (batch 1) | {single:.1f} |\n| batched (batch 32) | {batched:.1f} |\n\n"
        f"Batched is **{batched / single:.1f}×** faster ({N_PROBES} probes, same run).\n"
    )
