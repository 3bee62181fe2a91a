"""Run every benchmark and write the figures to one markdown file (`make bench`).

    .venv/bin/python benchmarks/run.py --out benchmarks/results.md [--only hallucination]

This machine is shared and noisy: each benchmark compares two ways of doing the same work in one run and
quotes the ratio; absolute times are context only.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ("bench_hallucination", "bench_lmeval", "bench_trend", "bench_real", "bench_datalint")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(HERE / "results.md"))
    parser.add_argument("--only", default=None, help="run only benchmarks whose name contains this")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    sections = [
        f"# sftdebug benchmarks\n\n{time.strftime('%Y-%m-%d %H:%M')} · Python {platform.python_version()} · "
        f"{platform.machine()} · {_cores()} cores\n"
    ]
    for name in BENCHES:
        if args.only and args.only not in name:
            continue
        print(f"running {name} …", flush=True)
        sections.append(importlib.import_module(name).run())
        Path(args.out).write_text("\n".join(sections), encoding="utf-8")  # what finished survives a later failure
    print(f"wrote {args.out}")
    return 0


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    raise SystemExit(main())
