"""`sftdebug hallucination`: narrow hallucinations, base continuation vs SFT answer, fact by fact."""

from __future__ import annotations

import argparse
from typing import Any

from sftdebug.cliargs import GateKind, add_engine_args, add_fail_above, add_run_args, add_shard_arg

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


def add_question_args(p: Any) -> None:
    """How facts are asked, for every command that runs the hallucination phases (hallucination, watch)."""
    p.add_argument(
        "--probes",
        action="append",
        default=[],
        help="probe JSONL (repeatable; default: the lab's probes for a lab model, else the built-in sets)",
    )
    p.add_argument("--builtin", default="en,zh", help="built-in probe languages when no --probes (default en,zh)")
    p.add_argument("--system", default=None, help="system prompt for the SFT side (a probe's own 'system' wins)")
    p.add_argument("--max-new-tokens", type=int, default=64, help="SFT answer length limit (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--base-prompt",
        choices=["auto", "few-shot", "zero-shot"],
        default="auto",
        help="how the base is asked each cloze: after --shots solved clozes of the same relation, bare, or "
        "(auto, default) whichever makes it answer more of a 64-probe sample",
    )
    p.add_argument("--shots", type=int, default=3, help="exemplars per few-shot base prompt (default 3)")


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
    add_question_args(hal)
    hal.add_argument("--samples", type=int, default=0, help="sampled answers per phrasing, for knowledge categories")
    hal.add_argument("--temperature", type=float, default=1.0, help="sampling temperature for --samples")
    hal.add_argument("--limit", type=int, default=None, help="only the first N probes")
    hal.add_argument("--csv", default=None, help="also write the per-fact records as CSV here")
    add_fail_above(hal, "narrow_hallucination_rate=0.1")
    add_engine_args(hal, two_models=True)
    add_run_args(hal, "hallucination")
    add_shard_arg(hal, "probes")
    hal.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The flags as a HallucinationConfig, the library call, the terminal summary and the exit code."""
    from sftdebug.cliargs import engine_config, exit_code, parse_fail_above
    from sftdebug.hallucination import report, trend_report
    from sftdebug.hallucination.api import HallucinationConfig
    from sftdebug.hallucination.api import run as run_hallucination
    from sftdebug.report import terminal as console

    gates = parse_fail_above(args.fail_above, GATES)
    result = run_hallucination(
        HallucinationConfig(
            base=args.base,
            sft=args.sft,
            probes=args.probes,
            builtin=args.builtin,
            limit=args.limit,
            samples=args.samples,
            temperature=args.temperature,
            system=args.system,
            max_new_tokens=args.max_new_tokens,
            seed=args.seed,
            base_prompt=args.base_prompt,
            shots=args.shots,
            engine=engine_config(args),
            out=args.out,
            resume=args.resume,
            overwrite=args.overwrite,
            csv=args.csv,
            shard=args.shard,
        )
    )
    (trend_report if result.trend else report).print_summary(result.summary, str(result.path))
    console.replicas(result.summary)
    console.note(f"records: {result.path}/records.jsonl · report: {result.report}")
    return exit_code(result.summary, gates, "probes")
