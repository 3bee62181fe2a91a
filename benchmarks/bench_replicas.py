"""Several endpoints: `sftdebug generate` over one replica against the same run over two, on stub servers that
each answer at most MAX_CONCURRENT requests at once (the others queue, as on a saturated vLLM server), with a fixed
time to first token and per token. The command runs in this process (`sftdebug.cli.main`), so interpreter start-up
is not counted; the stubs (tests/stub_openai.py) run on threads beside it.

    .venv/bin/python benchmarks/run.py --only bench_replicas --out /tmp/bench_replicas.md
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT

sys.path.insert(0, str(ROOT / "tests"))
from stub_openai import StubServer

from sftdebug.cli import main
from sftdebug.core.runs import read_summary

N_PROMPTS = 240
MAX_CONCURRENT = 4  # answers a stub streams at once
B0, K, TOKENS = 0.05, 0.02, 8  # first token after 50 ms, then one every 20 ms: 0.19 s a request
CONCURRENCY = 8  # --concurrency: requests in flight per endpoint


def _stub() -> StubServer:
    return StubServer(b0=B0, k=K, answer_tokens=TOKENS, max_concurrent=MAX_CONCURRENT)


def _prompts(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"id": i, "prompt": f"question {i}"}) + "\n" for i in range(n)))
    return path


def _generate(urls: list[str], prompts: Path, out: Path, concurrency: int = CONCURRENCY) -> tuple[float, dict]:
    endpoints = [arg for url in urls for arg in ("--endpoint", url)]
    argv = ["generate", "--engine", "openai", *endpoints, "--model", "stub", "--prompts", str(prompts),
            "--max-new-tokens", str(TOKENS), "--concurrency", str(concurrency), "--out", str(out)]  # fmt: skip
    start = time.perf_counter()
    code = main(argv)
    seconds = time.perf_counter() - start
    summary = read_summary(out)
    if code != 0 or summary["n_prompts"] != len(prompts.read_text().splitlines()):
        raise RuntimeError(f"generate failed (exit {code}): {summary}")
    return seconds, summary


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        prompts = _prompts(Path(tmp) / "prompts.jsonl", N_PROMPTS)
        with _stub() as a, _stub() as b:
            _generate([a.url, b.url], _prompts(Path(tmp) / "few.jsonl", 8), Path(tmp) / "warm-up")  # imports, caches
            one, _ = _generate([a.url], prompts, Path(tmp) / "one")
            wide, _ = _generate([a.url], prompts, Path(tmp) / "wide", 2 * CONCURRENCY)
            two, summary = _generate([a.url, b.url], prompts, Path(tmp) / "two")
    rows = [
        ("one replica", CONCURRENCY, one),
        ("one replica, twice the requests in flight", 2 * CONCURRENCY, wide),
        ("two replicas", 2 * CONCURRENCY, two),
    ]
    table = "\n".join(f"| {name} | {n} | {s:.1f} | {N_PROMPTS / s:.1f} |" for name, n, s in rows)
    split = ", ".join(f"{r['requests']} ({r['mean_latency_s']:.2f} s mean)" for r in summary["replicas"])
    return (
        f"## several endpoints: `sftdebug generate`, {N_PROMPTS} prompts, one replica against two\n\n"
        f"Stub servers answering at most {MAX_CONCURRENT} requests at once each ({TOKENS} tokens: first after "
        f"{B0 * 1000:.0f} ms, then one every {K * 1000:.0f} ms), `--concurrency {CONCURRENCY}` (per endpoint).\n\n"
        "| endpoints | requests in flight | seconds | prompts/s |\n|---|---|---|---|\n" + table + "\n\n"
        f"Two replicas give **{one / two:.2f}×** the throughput of one (goal ≥ 1.6×); one replica with as many "
        f"requests in flight gives {one / wide:.2f}× (it is saturated: the gain is the second server's). Requests "
        f"per replica in the two-replica run (summary.json `replicas`): {split}.\n"
    )


if __name__ == "__main__":
    print(run())
