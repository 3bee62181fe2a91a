"""`sftdebug watch DIR`: the SFT phase on each new checkpoint of a training run as it appears (watch.py)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, cast

from sftdebug.cliargs import add_engine_args, add_fail_above, add_run_args
from sftdebug.hallucination.cli import add_question_args

if TYPE_CHECKING:
    from sftdebug.hallucination.schema import TrendSummary


def register(sub: Any) -> None:
    w = sub.add_parser(
        "watch",
        help="evaluate each new checkpoint-* of a training output folder as it appears, one base phase for all",
    )
    w.add_argument("folder", help="the trainer's output folder (checkpoint-* folders appear in it: full or adapters)")
    w.add_argument("--base", required=True, help="base (pretrained) model: folder or hub id")
    add_question_args(w)
    w.add_argument(
        "--max-probes", type=int, default=64, help="a fixed stratified subset of this many probes (default 64)"
    )
    w.add_argument(
        "--until-idle",
        type=float,
        default=600.0,
        help="stop after this many seconds without a new checkpoint (default 600)",
    )
    w.add_argument("--interval", type=float, default=10.0, help="seconds between looks at the folder (default 10)")
    w.add_argument(
        "--settle",
        type=float,
        default=30.0,
        help="a checkpoint without trainer_state.json is taken once no file changed for this long (default 30)",
    )
    add_fail_above(w, "narrow_hallucination_rate=0.1")
    add_engine_args(w, two_models=True)
    add_run_args(w, "watch")
    w.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sftdebug.cliargs import engine_config, exit_code, parse_fail_above
    from sftdebug.hallucination import trend_report
    from sftdebug.hallucination.api import HallucinationConfig
    from sftdebug.hallucination.cli import GATES
    from sftdebug.hallucination.watch import WatchConfig, watch
    from sftdebug.report import terminal as console

    gates = parse_fail_above(args.fail_above, GATES)
    run_cfg = HallucinationConfig(
        base=args.base, sft=args.folder, probes=args.probes, builtin=args.builtin, system=args.system,
        max_new_tokens=args.max_new_tokens, seed=args.seed, base_prompt=args.base_prompt, shots=args.shots, engine=engine_config(args),
        out=args.out, resume=args.resume, overwrite=args.overwrite,
    )  # fmt: skip
    cfg = WatchConfig(args.folder, run_cfg, args.max_probes, args.until_idle, args.interval, args.settle)
    result = watch(cfg)
    if result.summary:
        trend_report.print_summary(cast("TrendSummary", result.summary), str(result.path))  # watch makes a trend
    console.note(f"trend: {result.path} · report: {result.report}")
    return exit_code(result.summary, gates, "probes") if result.summary else 1
