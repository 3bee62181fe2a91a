"""Glue between parsed arguments and the library: one function per command, printing through console.

Imported only after argument parsing, so `sftdebug --help` stays instant.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from functools import partial
from pathlib import Path
from typing import Any

from sftdebug import console
from sftdebug.errors import UsageError


def dispatch(args: argparse.Namespace) -> int:
    handlers = {
        "lab": cmd_lab,
        "generate": cmd_generate,
        "hallucination": cmd_hallucination,
        "report": cmd_report,
        "demo": cmd_demo,
    }
    return handlers[args.command](args)


def _quiet_libraries() -> None:
    """transformers' own progress bars and advice would interleave with ours."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def cmd_lab(args: argparse.Namespace) -> int:
    out = args.out or os.path.join("reports", f"lab-{args.size}")
    ensure_lab(out, args.size, args.seed, args.force)
    return 0


def ensure_lab(out: str, size: str, seed: int = 0, force: bool = False) -> dict[str, Any]:
    """Build the lab unless a complete one of this size is already in `out`; print what it holds."""
    from sftdebug.lab import build_lab, lab_is_built

    if not force and lab_is_built(out, size):
        console.note(f"lab ({size}) already built in {out} (use --force to rebuild)")
        info: dict[str, Any] = json.loads((Path(out) / "lab.json").read_text(encoding="utf-8"))
    else:
        _quiet_libraries()
        with console.progress_bars() as bar:
            info = build_lab(out, size, seed, progress=bar)
    rows = [
        [
            name,
            m.get("purpose", "pretrained on the synthetic world"),
            m["train"]["steps"],
            m["train"]["lr"],
            m["final_loss"],
        ]
        for name, m in info["models"].items()
    ]
    console.table(
        f"lab ({size}) in {out}: {info['n_facts']} facts, built in {info['build_seconds']} s",
        ["model", "purpose", "steps", "lr", "final loss"],
        rows,
    )
    return info


def cmd_generate(args: argparse.Namespace) -> int:
    from sftdebug.engines import SamplingParams, load_engine
    from sftdebug.generate import PromptItem, read_prompts, run_generate
    from sftdebug.store import RunFolder

    try:
        params = SamplingParams(
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            top_p=args.top_p,
            n=args.n,
            seed=args.seed,
            stop=tuple(args.stop),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.prompts:
        items = read_prompts(args.prompts)
    else:
        items = [PromptItem("0", [{"role": "user", "content": args.prompt}] if args.chat else args.prompt)]
    out = args.out or _default_out("generate")
    RunFolder.precheck(out, args.resume, args.overwrite)
    _quiet_libraries()
    engine = load_engine(args.engine, args.model, **engine_options(args))
    for it in items:  # pre-flight: a template or prompt error stops the run before anything is written
        engine.render(it.prompt)
    run = RunFolder.open(
        out,
        "generate",
        vars(args),
        resume=args.resume,
        overwrite=args.overwrite,
        identity=["model", "prompts", "prompt", "max_new_tokens", "temperature", "n", "seed"],
    )
    with run, console.progress_bars() as bar:
        summary = run_generate(engine, items, params, run, tick=lambda d, t: bar("generate", d, t, ""))
    rows = [[r["id"], r["sample"], r["text"], r["finish_reason"]] for r in run.records()[:10]]
    console.table(f"first completions ({out})", ["id", "sample", "text", "finish"], rows)
    console.kv("summary", summary)
    return 0


def _default_out(kind: str) -> str:
    return os.path.join("reports", kind, time.strftime("%Y%m%d-%H%M%S"))


def engine_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {args.batch_size}")
    return {
        "device": args.device,
        "dtype": args.dtype,
        "batch_size": args.batch_size,
        "trust_remote_code": args.trust_remote_code,
    }


def cmd_demo(args: argparse.Namespace) -> int:
    """Build the lab (cached), run every diagnostic on it, and write one index page linking the reports."""
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


def parse_fail_above(specs: list[str]) -> dict[str, float]:
    gates = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        try:
            gates[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise UsageError(f"--fail-above {spec!r}: expected METRIC=NUMBER, e.g. narrow_hallucination_rate=0.1")
    return gates


def check_gates(gates: dict[str, float], summary: dict[str, Any]) -> int:
    """Exit code 3 when a gated metric exceeds its limit (for CI), else 0."""
    failed = 0
    for name, limit in gates.items():
        value = summary.get(name)
        if not isinstance(value, int | float):
            numeric = sorted(k for k, v in summary.items() if isinstance(v, int | float) and not isinstance(v, bool))
            raise UsageError(f"--fail-above: {name!r} is not a numeric summary metric (have: {', '.join(numeric)})")
        if value > limit:
            console.error(f"gate failed: {name} = {value:.4f} > {limit}")
            failed = 3
    return failed


def resolve_probe_files(args: argparse.Namespace) -> list[str]:
    """--probes as given; else the lab's own probes for a lab model; else the built-in sets."""
    from sftdebug.probes import builtin_probe_files

    if args.probes:
        return list(args.probes)
    base = Path(args.base)
    if (base / "lab.json").is_file() and (base.parent / "probes.jsonl").is_file():
        return [str(base.parent / "probes.jsonl")]
    return [str(p) for p in builtin_probe_files(args.builtin)]


def cmd_hallucination(args: argparse.Namespace) -> int:
    from sftdebug.engines import load_engine
    from sftdebug.hallucination_run import HallucinationConfig, run_hallucination
    from sftdebug.probes import load_probes
    from sftdebug.report import console as report_console
    from sftdebug.report.build import build_report
    from sftdebug.store import RunFolder

    gates = parse_fail_above(args.fail_above)
    if args.samples < 0 or args.max_new_tokens < 1 or args.temperature <= 0:
        raise UsageError("--samples must be >= 0, --max-new-tokens >= 1 and --temperature > 0")
    files = resolve_probe_files(args)
    probes, seen = [], set()
    for f in files:
        for p in load_probes(f):
            if p.id in seen:
                raise UsageError(f"{f}: probe id {p.id!r} also appears in an earlier probe file")
            seen.add(p.id)
            probes.append(p)
    probes = probes[: args.limit] if args.limit else probes
    cfg = HallucinationConfig(
        samples=args.samples,
        temperature=args.temperature,
        sft_max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        system=args.system,
    )
    out = args.out or _default_out("hallucination")
    RunFolder.precheck(out, args.resume, args.overwrite)
    opts = engine_options(args)
    _quiet_libraries()
    run = RunFolder.open(
        out,
        "hallucination",
        {**vars(args), "probes": files},
        resume=args.resume,
        overwrite=args.overwrite,
        identity=["base", "sft", "probes", "samples", "temperature", "seed", "system", "max_new_tokens", "limit"],
    )
    with run, console.progress_bars() as bar:
        summary = run_hallucination(
            lambda: load_engine(args.engine, args.base, **opts),
            lambda: load_engine(args.engine, args.sft, **opts),
            probes,
            cfg,
            run,
            bar,
        )
    if args.csv:
        from sftdebug.store import load_run

        load_run(out).to_csv(args.csv, index=False)
    report = build_report([out])
    report_console.hallucination(summary, out)
    console.note(f"records: {out}/records.jsonl · report: {report}")
    return check_gates(gates, summary)


def cmd_report(args: argparse.Namespace) -> int:
    from sftdebug.report.build import build_report

    path = build_report(args.runs, args.out)
    console.note(f"report: {path}")
    return 0
