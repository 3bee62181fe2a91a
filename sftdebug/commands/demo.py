"""`sftdebug demo` (what `make demo` runs): build the demo lab, run every diagnostic on it, write one index."""

from __future__ import annotations

import argparse
import os
from functools import partial
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    demo = sub.add_parser("demo", help="build the demo lab and run the suite on it")
    demo.add_argument("--out", default=os.path.join("reports", "demo"))
    demo.add_argument("--size", choices=["test", "demo"], default="demo")
    demo.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sftdebug import console
    from sftdebug.commands.lab import ensure_lab
    from sftdebug.engines import load_engine
    from sftdebug.hallucination_run import HallucinationConfig, run_hallucination
    from sftdebug.lab import VARIANTS
    from sftdebug.probes import load_probes
    from sftdebug.report.build import build_index, build_report
    from sftdebug.store import RunFolder

    lab_dir = Path("reports") / f"lab-{args.size}"
    ensure_lab(str(lab_dir), args.size)
    out = Path(args.out)
    probes = load_probes(lab_dir / "probes.jsonl")
    runs, rows = [], []
    for variant in VARIANTS:
        run_dir = out / f"hallucination-{variant}"
        base, sft = str(lab_dir / "base"), str(lab_dir / variant)
        run_args = {"base": base, "sft": sft, "probes": [str(lab_dir / "probes.jsonl")]}
        with RunFolder.open(run_dir, "hallucination", run_args, overwrite=True) as run, console.progress_bars() as bar:
            s = run_hallucination(
                partial(load_engine, "hf", base),
                partial(load_engine, "hf", sft),
                probes,
                HallucinationConfig(),
                run,
                bar,
            )
        build_report([run_dir])
        runs.append(run_dir)
        rows.append(
            [
                variant,
                s["narrow_hallucination_rate"],
                s["sft_eos_rate"],
                s["sft_accuracy"],
                "; ".join(s["warnings"]) or "—",
            ]
        )
    index = build_index(runs, out / "index.html", title=f"sftdebug demo on the {args.size} lab")
    console.table(
        "demo: hallucination, base vs each SFT variant",
        ["SFT variant", "narrow rate", "eos rate", "SFT accuracy", "warnings"],
        rows,
    )
    console.note(f"report: {index}")
    return 0
