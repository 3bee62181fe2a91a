"""`sftdebug latency`: measure and fit generation time = b(p) + k·x (see latency/fit.py)."""

from __future__ import annotations

import argparse
from typing import Any

from sftdebug.cliargs import GateKind, add_engine_args, add_fail_above, add_run_args

# what --fail-above may gate (top-level in summary.json); `regression` needs --baseline
GATES: dict[str, GateKind] = {"regression": "change", "n_failed": "count", "n_retried": "count"}


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def register(sub: Any) -> None:
    # "resolve": --concurrency is the engine flags' one number, taken over here as a list of load levels
    lat = sub.add_parser(
        "latency", help="measure TTFT and per-token time; fit time = b(prompt) + k·tokens", conflict_handler="resolve"
    )
    lat.add_argument("--model", required=True, help="Hugging Face folder / hub id, or the served model name")
    lat.add_argument("--prompt-lens", type=_ints, default=(16, 64, 256, 1024), help="default 16,64,256,1024")
    lat.add_argument("--output-lens", type=_ints, default=(1, 16, 64, 256), help="default 1,16,64,256")
    lat.add_argument("--repeats", type=int, default=5, help="timed requests per (prompt, output) cell")
    lat.add_argument("--warmup", type=int, default=3, help="untimed requests first (default 3)")
    lat.add_argument("--what-if-prompts", type=_ints, default=(256, 2048), help="what-if prompt lengths")
    lat.add_argument("--what-if-answers", type=_ints, default=(32, 256), help="what-if answer lengths")
    lat.add_argument("--cot", type=int, default=512, help="extra chain-of-thought tokens priced in the what-if table")
    lat.add_argument("--mem-bandwidth-gbs", type=float, default=None, help="memory bandwidth, for the roofline floor")
    lat.add_argument("--peak-tflops", type=float, default=None, help="peak dense TFLOP/s, for the roofline floor")
    lat.add_argument("--seed", type=int, default=0)
    lat.add_argument("--baseline", default=None, help="an earlier latency run folder to compare predictions with")
    add_fail_above(lat, "regression=0.1 (with --baseline)")
    add_engine_args(lat)
    load = lat.add_argument_group("under load")
    load.add_argument(
        "--concurrency",
        type=_ints,
        default=(1,),
        help="requests in flight, or several levels to sweep, e.g. 1,4,16,64: each level times the same grid, "
        "fits b and k, and throughput against latency shows the knee (default 1: the latency of one request; "
        "--engine vllm or openai)",
    )
    load.add_argument(
        "--price-per-hour",
        type=float,
        default=None,
        metavar="DOLLARS",
        help="what the server costs an hour: prices every what-if point per request and per 1M output tokens",
    )
    add_run_args(lat, "latency")
    lat.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The flags as a LatencyConfig, the library call, the terminal summary and the exit code."""
    from sftdebug.cliargs import engine_config, exit_code, parse_fail_above
    from sftdebug.core.errors import UsageError
    from sftdebug.latency.api import LatencyConfig
    from sftdebug.latency.api import run as run_latency
    from sftdebug.latency.report import print_summary
    from sftdebug.report import terminal as console

    gates = parse_fail_above(args.fail_above, GATES)
    if "regression" in gates and not args.baseline:
        raise UsageError("--fail-above regression=… compares with an earlier run: give --baseline RUN")
    levels = args.concurrency  # the engine is configured for the most requests in flight
    result = run_latency(
        LatencyConfig(
            model=args.model,
            prompt_lens=args.prompt_lens,
            output_lens=args.output_lens,
            repeats=args.repeats,
            warmup=args.warmup,
            what_if_prompts=args.what_if_prompts,
            what_if_answers=args.what_if_answers,
            cot=args.cot,
            mem_bandwidth_gbs=args.mem_bandwidth_gbs,
            peak_tflops=args.peak_tflops,
            seed=args.seed,
            baseline=args.baseline,
            concurrency=levels,
            price_per_hour=args.price_per_hour,
            engine=engine_config(argparse.Namespace(**{**vars(args), "concurrency": max(levels)})),
            out=args.out,
            resume=args.resume,
            overwrite=args.overwrite,
        )
    )
    print_summary(result.summary, str(result.path))
    console.replicas(result.summary)
    console.note(f"records: {result.path}/records.jsonl · report: {result.report}")
    return exit_code(result.summary, gates, "timed requests")
