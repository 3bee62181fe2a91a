"""Glue between parsed arguments and the library: one function per command, printing through console.

Imported only after argument parsing, so `sftdebug --help` stays instant.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from sftdebug import console
from sftdebug.errors import UsageError


def dispatch(args: argparse.Namespace) -> int:
    handlers = {"lab": cmd_lab, "generate": cmd_generate, "demo": cmd_demo}
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
    lab_dir = os.path.join("reports", f"lab-{args.size}")
    ensure_lab(lab_dir, args.size)
    console.note(f"demo: lab in {lab_dir}; reports in {args.out}")
    return 0
