"""`sftdebug hallucination`: narrow hallucinations, base continuation vs SFT answer, fact by fact."""

from __future__ import annotations

import argparse
from functools import partial
from typing import Any

from sftdebug.core.cliargs import GateKind, add_engine_args, add_fail_above, add_run_args, retry_policy

IDENTITY = ["base", "sft", "probes", "samples", "temperature", "seed", "system", "max_new_tokens", "limit",
            "base_prompt", "shots"]  # fmt: skip
# what --fail-above may gate (top-level in a run's and a trend's summary.json), and what kind of number each is
GATES: dict[str, GateKind] = {
    "narrow_hallucination_rate": "share",
    "format_loss_rate": "share",
    "knowledge_loss_rate": "share",
    "sft_accuracy": "share",
    "sft_eos_rate": "share",
    "n_failed": "count",
    "n_retried": "count",
}


def register(sub: Any) -> None:
    hal = sub.add_parser("hallucination", help="find narrow hallucinations: base continuation vs SFT answer, per fact")
    hal.add_argument("--base", required=True, help="base (pretrained) model: folder or hub id")
    hal.add_argument(
        "--sft",
        required=True,
        action="append",
        help="SFT (chat) model: folder or hub id; repeat it, or give a quoted pattern ('out/checkpoint-*'), for a "
        "trend over checkpoints (the base phase runs once)",
    )
    hal.add_argument(
        "--probes",
        action="append",
        default=[],
        help="probe JSONL (repeatable; default: the lab's probes for a lab model, else the built-in sets)",
    )
    hal.add_argument("--builtin", default="en,zh", help="built-in probe languages when no --probes (default en,zh)")
    hal.add_argument("--samples", type=int, default=0, help="sampled answers per phrasing, for knowledge categories")
    hal.add_argument("--temperature", type=float, default=1.0, help="sampling temperature for --samples")
    hal.add_argument("--system", default=None, help="system prompt for the SFT side (a probe's own 'system' wins)")
    hal.add_argument("--max-new-tokens", type=int, default=64, help="SFT answer length limit (default 64)")
    hal.add_argument("--seed", type=int, default=0)
    hal.add_argument(
        "--base-prompt",
        choices=["auto", "few-shot", "zero-shot"],
        default="auto",
        help="how the base is asked each cloze: after --shots solved clozes of the same relation, bare, or "
        "(auto, default) whichever makes it answer more of a 64-probe sample",
    )
    hal.add_argument("--shots", type=int, default=3, help="exemplars per few-shot base prompt (default 3)")
    hal.add_argument("--limit", type=int, default=None, help="only the first N probes")
    hal.add_argument("--csv", default=None, help="also write the per-fact records as CSV here")
    add_fail_above(hal, "narrow_hallucination_rate=0.1")
    add_engine_args(hal, two_models=True)
    add_run_args(hal, "hallucination")
    hal.set_defaults(run=run)


def resolve_probe_files(args: argparse.Namespace) -> list[str]:
    """--probes as given; else the lab's own probes for a lab model; else the built-in sets."""
    from sftdebug.hallucination.probes import builtin_probe_files
    from sftdebug.lab.layout import LabLayout

    if args.probes:
        return list(args.probes)
    lab = LabLayout.of_model(args.base)
    if lab is not None and lab.probes.is_file():
        return [str(lab.probes)]
    return [str(p) for p in builtin_probe_files(args.builtin)]


def load_all(files: list[str]) -> list[Any]:
    from sftdebug.core.errors import UsageError
    from sftdebug.hallucination.probes import load_probes

    probes, seen = [], set()
    for f in files:
        for p in load_probes(f):
            if p.id in seen:
                raise UsageError(f"{f}: probe id {p.id!r} also appears in an earlier probe file")
            seen.add(p.id)
            probes.append(p)
    return probes


def run(args: argparse.Namespace) -> int:
    from sftdebug.core.cliargs import (
        check_models,
        default_out,
        engine_options,
        exit_code,
        parse_fail_above,
        quiet_libraries,
    )
    from sftdebug.core.errors import UsageError
    from sftdebug.core.runs import RunFolder, load_run
    from sftdebug.engines import load_engine
    from sftdebug.hallucination.report import print_summary
    from sftdebug.hallucination.run import HallucinationConfig, run_hallucination
    from sftdebug.hallucination.trend import expand_checkpoints
    from sftdebug.report import terminal as console
    from sftdebug.report.build import build_report

    gates = parse_fail_above(args.fail_above, GATES)
    if args.samples < 0 or args.max_new_tokens < 1 or args.temperature <= 0:
        raise UsageError("--samples must be >= 0, --max-new-tokens >= 1 and --temperature > 0")
    if args.shots < 1:
        raise UsageError(f"--shots must be >= 1, got {args.shots}")
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be >= 1, got {args.limit}")
    files = resolve_probe_files(args)
    probes = load_all(files)[: args.limit] if args.limit else load_all(files)
    cfg = HallucinationConfig(
        samples=args.samples,
        temperature=args.temperature,
        sft_max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        system=args.system,
        base_prompt=args.base_prompt,
        shots=args.shots,
    )
    sfts = expand_checkpoints(args.sft)
    out = args.out or default_out("hallucination")
    RunFolder.precheck(out, args.resume, args.overwrite)
    quiet_libraries()
    # Everything that can be checked is checked before the run folder exists (nothing half-written).
    base_options, sft_options = engine_options(args, "base"), engine_options(args, "sft")
    check_models(args, args.base, side="base")
    check_models(args, *sfts, side="sft")
    for sft in sfts:
        _check_sft_template(args, sft)
    if len(sfts) > 1:
        args.sft = sfts
        return _run_trend(args, probes, files, cfg, gates, out, base_options, sft_options)
    args.sft = sfts[0]
    with (
        RunFolder.open(
            out,
            "hallucination",
            {**vars(args), "probes": files},
            resume=args.resume,
            overwrite=args.overwrite,
            identity=IDENTITY,
            retry=retry_policy(args),
        ) as run_folder,
        console.progress_bars() as bar,
    ):
        summary = run_hallucination(
            partial(load_engine, args.engine, args.base, **base_options),
            partial(load_engine, args.engine, args.sft, **sft_options),
            probes,
            cfg,
            run_folder,
            bar,
        )
    if args.csv:
        load_run(out).to_csv(args.csv, index=False)
    report = build_report([out])
    print_summary(summary, out)
    console.note(f"records: {out}/records.jsonl · report: {report}")
    return exit_code(summary, gates, "probes")


def _run_trend(
    args: argparse.Namespace,
    probes: list[Any],
    files: list[str],
    cfg: Any,
    gates: dict[str, float],
    out: str,
    base_options: dict[str, Any],
    sft_options: dict[str, Any],
) -> int:
    """Several --sft checkpoints: one subfolder run each (checkpoints/NN-name), the base phase shared."""
    from pathlib import Path

    from sftdebug.core.cliargs import exit_code
    from sftdebug.core.runs import RunFolder
    from sftdebug.engines import load_engine
    from sftdebug.hallucination.run import run_trend
    from sftdebug.hallucination.trend import ordered_checkpoints
    from sftdebug.hallucination.trend_report import print_summary
    from sftdebug.report import terminal as console
    from sftdebug.report.build import build_report

    checkpoints = ordered_checkpoints(args.sft)
    config = {**vars(args), "probes": files}

    def open_checkpoint_run(ckpt: dict[str, Any]) -> RunFolder:
        sub = Path(out) / "checkpoints" / ckpt["name"]
        return RunFolder.open(
            sub,
            "hallucination",
            {**config, "sft": ckpt["path"], "step": ckpt["step"]},
            resume=args.resume,
            overwrite=not args.resume,
            identity=IDENTITY,
            retry=retry_policy(args),
        )

    with (
        RunFolder.open(
            out,
            "hallucination_trend",
            config,
            resume=args.resume,
            overwrite=args.overwrite,
            identity=IDENTITY,
            retry=retry_policy(args),
        ) as top,
        console.progress_bars() as bar,
    ):
        summary = run_trend(
            partial(load_engine, args.engine, args.base, **base_options),
            lambda path: load_engine(args.engine, path, **sft_options),
            probes,
            cfg,
            top,
            checkpoints,
            open_checkpoint_run,
            bar,
        )
    for ckpt in checkpoints:
        build_report([Path(out) / "checkpoints" / ckpt["name"]])
    report = build_report([out])
    print_summary(summary, out)
    console.note(f"records: {out}/records.jsonl · report: {report}")
    return exit_code(summary, gates, "probes")


def _check_sft_template(args: argparse.Namespace, sft: str) -> None:
    """The SFT model answers through its chat template: one without a template is refused before the base
    phase runs (an endpoint renders its own; with --tokenizer we can check that one)."""
    from sftdebug.core.chat import render_chat
    from sftdebug.engines.source import resolve_model, resolve_tokenizer

    if args.engine == "openai" and not args.tokenizer:
        return
    from transformers import AutoTokenizer

    folder = resolve_tokenizer(args.tokenizer) if args.engine == "openai" else resolve_model(sft)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=args.trust_remote_code)
    tokenizer.name_or_path = sft
    render_chat(tokenizer, [{"role": "user", "content": "?"}])
