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
BENCHES = (
    "bench_lab_numerics",
    "bench_hallucination",
    "bench_lmeval",
    "bench_trend",
    "bench_adapters",
    "bench_lora_cost",
    "bench_callback",
    "bench_risk",
    "bench_real",
    "bench_validity",
    "bench_stages",
    "bench_fast_tier",
    "bench_datalint",
    "bench_faults",
    "bench_replicas",
    "judge_accuracy",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(HERE / "results.md"))
    parser.add_argument("--only", default=None, help="run only benchmarks whose name contains this (the others' "
                        "sections in --out are kept)")  # fmt: skip
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    out = Path(args.out)
    sections = _sections(out.read_text(encoding="utf-8")) if args.only and out.is_file() else {}
    stamp = f"{time.strftime('%Y-%m-%d %H:%M')} · Python {platform.python_version()} · {platform.machine()} · {_cores()} cores"
    for name in BENCHES:
        if args.only and args.only not in name:
            continue
        print(f"running {name} …", flush=True)
        sections[name] = f"<!-- {name} -->\n_{stamp}_\n\n" + importlib.import_module(name).run()
        # written after every benchmark: what finished survives a later failure
        body = [sections[n] for n in BENCHES if n in sections]
        out.write_text("\n".join(["# sftdebug benchmarks\n", *body]), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def _sections(text: str) -> dict[str, str]:
    """The benchmark sections of an earlier results file, by benchmark name (from their `<!-- name -->` marks)."""
    found = {}
    for part in text.split("<!-- ")[1:]:
        name, _, rest = part.partition(" -->")
        found[name] = f"<!-- {name} -->{rest.rstrip()}\n"
    return found


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    raise SystemExit(main())
