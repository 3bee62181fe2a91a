"""Runs that finish by themselves: `hallucination` over an endpoint that fails often, at default settings, without
`--resume`. The stub server of the tests (tests/stub_openai.py) serves base and SFT model; each trial is one
fault-free run and one run under a fault mix drawn with another seed, both as the command a user types; the
verdicts and candidate ranks of every finished probe are compared with the fault-free run's.

    .venv/bin/python benchmarks/bench_faults.py        # writes benchmarks/faults.md
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT

sys.path.insert(0, str(ROOT / "tests"))
from stub_openai import StubServer

from sftdebug.core.runs import read_records

N_PROBES = 60
# the mixes: (name, fault -> probability, extra flags, trials: each is minutes on a shared 2-core machine)
MIXES = [
    ("20% 500, 10% 429, 10% drops, 5% hangs", {"500": 0.2, "429": 0.1, "drop": 0.1, "hang": 0.05}, [], 5),
    ("20% hangs", {"hang": 0.2}, ["--timeout", "2"], 3),
]


def _argv(url: str, out: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "sftdebug", "hallucination", "--engine", "openai", "--endpoint", url,
            "--base", "stub", "--sft", "stub", "--builtin", "en", "--limit", str(N_PROBES), "--out", str(out),
            *extra]  # fmt: skip


def _verdicts(folder: Path) -> dict[str, tuple[str, int | None]]:
    return {r["probe_id"]: (r["verdict"], r.get("answer_rank")) for r in read_records(folder)}


def _clean(tmp: Path) -> tuple[dict[str, tuple[str, int | None]], float]:
    """The fault-free run's verdicts and seconds (the stub is deterministic: one run serves every trial)."""
    import subprocess

    clean = tmp / "clean"
    with StubServer(model="stub", scoring=True) as stub:
        t0 = time.perf_counter()
        ref = subprocess.run(_argv(stub.url, clean, []), capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    if ref.returncode != 0:
        raise RuntimeError(f"the fault-free run failed ({ref.returncode}): {ref.stderr[-2000:]}")
    return _verdicts(clean), seconds


def _trial(
    faulty: Path, want: dict[str, tuple[str, int | None]], seed: int, mix: dict[str, float], extra: list[str]
) -> dict[str, float]:
    import subprocess

    with StubServer(model="stub", scoring=True, fault_mix=mix, seed=seed) as stub:
        t0 = time.perf_counter()
        proc = subprocess.run(_argv(stub.url, faulty, extra), capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    summary = json.loads((faulty / "summary.json").read_text())
    got = _verdicts(faulty)
    return {
        "rc": proc.returncode,
        "done": len(got),
        "retried": summary.get("n_retried", 0),
        "equal": sum(got[k] == want[k] for k in got),
        "seconds": seconds,
    }


def _section(name: str, rows: list[dict[str, float]], extra: list[str]) -> str:
    done = sum(r["done"] for r in rows)
    total = N_PROBES * len(rows)
    whole = sum(r["rc"] == 0 for r in rows)
    secs = [r["seconds"] for r in rows]
    lines = [f"| {i} | {r['rc']} | {r['done']}/{N_PROBES} | {r['retried']} | {r['equal']}/{r['done']} | "
             f"{r['seconds']:.0f} |" for i, r in enumerate(rows, 1)]  # fmt: skip
    return (
        f"### {name} ({' '.join(extra) or 'default settings'})\n\n"
        "| trial | exit code | probes done without --resume | needed retries | verdicts equal to fault-free | s |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(lines) + "\n\n"
        f"**{done}/{total} probes ({done / total:.1%}) done without `--resume`; {whole}/{len(rows)} runs complete "
        f"(exit 0)**; verdicts and candidate ranks equal to the fault-free run for "
        f"{sum(r['equal'] for r in rows)}/{done} finished probes; median {statistics.median(secs):.0f} s a run "
        f"(range {min(secs):.0f}–{max(secs):.0f} s).\n"
    )


def run() -> str:
    out = [
        f"## hallucination over a faulty endpoint, {N_PROBES} probes, no `--resume`\n\n"
        "Each trial: a fault-free run, then a run whose every request (generation and candidate scoring) meets "
        "a fault drawn with the trial's seed; the run retries failed requests (3 retries with backoff) and then "
        "failed probes (`--retry-rounds`, default 3, pausing 2, 4, 8 s).\n"
    ]
    with tempfile.TemporaryDirectory() as tmp:
        want, clean_s = _clean(Path(tmp))
        out.append(f"The fault-free run takes {clean_s:.1f} s.\n")
        for m, (name, mix, extra, trials) in enumerate(MIXES):
            rows = [_trial(Path(tmp) / f"mix{m}-seed{seed}", want, seed, mix, extra) for seed in range(1, trials + 1)]
            out.append(_section(name, rows, extra))
            print(out[-1], flush=True)  # what finished survives a later failure
    return "\n".join(out)


if __name__ == "__main__":
    text = run()
    (Path(__file__).resolve().parent / "faults.md").write_text(f"_{time.strftime('%Y-%m-%d %H:%M')}_\n\n{text}")
    print(text)
