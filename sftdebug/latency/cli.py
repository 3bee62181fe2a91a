"""`sftdebug latency`: measure and fit generation time = b(p) + k·x (see latency/fit.py)."""

from __future__ import annotations

import argparse
from typing import Any

from sftdebug.core.cliargs import GateKind, add_engine_args, add_fail_above, add_run_args, retry_policy

# what --fail-above may gate (top-level in summary.json); `regression` needs --baseline
GATES: dict[str, GateKind] = {"regression": "change", "n_failed": "count", "n_retried": "count"}
IDENTITY = ["model", "engine", "prompt_lens", "output_lens", "repeats"]


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def register(sub: Any) -> None:
    lat = sub.add_parser("latency", help="measure TTFT and per-token time; fit time = b(prompt) + k·tokens")
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
    add_run_args(lat, "latency")
    # One request at a time unless asked: with more in flight an endpoint measures latency under load.
    lat.set_defaults(run=run, concurrency=1)


def hardware_facts(engine: Any, args: argparse.Namespace) -> dict[str, Any]:
    """What the roofline needs: parameter count and bytes (engines that know them), and peak numbers from
    the flags or the known-GPU table."""
    from sftdebug.latency.fit import KNOWN_GPUS

    info = engine.info
    facts: dict[str, Any] = {"engine": args.engine, "device": info.device}
    if info.n_params:
        facts.update(params=info.n_params, bytes_per_param=info.bytes_per_param)
    device = facts["device"] or ""
    known = next((v for k, v in KNOWN_GPUS.items() if k.lower() in device.lower()), None)
    bw, tflops = known if known else (None, None)
    facts["mem_bandwidth_gbs"] = args.mem_bandwidth_gbs or bw
    facts["peak_tflops"] = args.peak_tflops or tflops
    return facts


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
    from sftdebug.core.runs import RunFolder
    from sftdebug.engines import load_engine
    from sftdebug.latency.measure import SweepConfig
    from sftdebug.latency.report import print_summary
    from sftdebug.report import terminal as console
    from sftdebug.report.build import build_report

    if args.repeats < 1 or args.warmup < 0 or args.cot < 0:
        raise UsageError("--repeats must be >= 1, --warmup >= 0 and --cot >= 0")
    gates = parse_fail_above(args.fail_above, GATES)
    if "regression" in gates and not args.baseline:
        raise UsageError("--fail-above regression=… compares with an earlier run: give --baseline RUN")
    baseline = _baseline_fit(args.baseline) if args.baseline else None
    cfg = SweepConfig(
        prompt_lens=args.prompt_lens,
        output_lens=args.output_lens,
        repeats=args.repeats,
        warmup=args.warmup,
        concurrency=args.concurrency if args.engine == "openai" else 1,
        seed=args.seed,
    )
    out = args.out or default_out("latency")
    RunFolder.precheck(out, args.resume, args.overwrite)
    quiet_libraries()
    options = engine_options(args)
    check_models(args, args.model)
    if args.engine == "hf":
        options["batch_size"] = 1  # one request at a time: batching would blur per-request timing
    if args.engine == "vllm":
        options["streaming"] = True  # per-token arrival times, not just TTFT and the decode span
        options["max_model_len"] = max(cfg.prompt_lens) + max(cfg.output_lens) + 16  # the grid, no more
    engine = load_engine(args.engine, args.model, **options)
    try:
        summary = _measure(args, cfg, engine, out, baseline)
    finally:
        engine.close()
    report = build_report([out])
    print_summary(summary, out)
    console.note(f"records: {out}/records.jsonl · report: {report}")
    return exit_code(summary, gates, "timed requests")


def _baseline_fit(path: str) -> dict[str, Any]:
    """The fit of an earlier latency run (checked before anything runs)."""
    from sftdebug.core.errors import UsageError
    from sftdebug.core.runs import read_config, read_summary

    if read_config(path).get("kind") != "latency":
        raise UsageError(f"--baseline {path}: not a latency run")
    fit: dict[str, Any] = read_summary(path)["fit"]
    return fit


def _measure(
    args: argparse.Namespace, cfg: Any, engine: Any, out: str, baseline: dict[str, Any] | None
) -> dict[str, Any]:
    from sftdebug.core.errors import UsageError
    from sftdebug.core.runs import RunFolder
    from sftdebug.latency.fit import summarize
    from sftdebug.latency.measure import run_sweep
    from sftdebug.report import terminal as console

    limit = engine.info.max_positions
    if limit and max(cfg.prompt_lens) + max(cfg.output_lens) > limit:
        raise UsageError(
            f"prompt {max(cfg.prompt_lens)} + output {max(cfg.output_lens)} tokens exceed the model's "
            f"{limit} positions: choose smaller --prompt-lens / --output-lens"
        )
    with (
        RunFolder.open(
            out,
            "latency",
            vars(args),
            resume=args.resume,
            overwrite=args.overwrite,
            identity=IDENTITY,
            retry=retry_policy(args),
        ) as folder,
        console.progress_bars() as bar,
    ):
        records = run_sweep(engine, cfg, folder, bar)
        n_cells = len(cfg.prompt_lens) * len(cfg.output_lens) * cfg.repeats
        summary = summarize(
            records,
            n_cells - len(records),
            args.what_if_prompts,
            args.what_if_answers,
            args.cot,
            hardware_facts(engine, args),
            seed=args.seed,
            concurrency=cfg.concurrency,
        )
        summary["n_retried"] = len(folder.retried())
        if baseline is not None:
            from sftdebug.latency.baseline import compare

            block = compare(summary["fit"], baseline, args.what_if_prompts, args.what_if_answers)
            summary.update(baseline={"run": args.baseline, **block}, regression=block["regression"])
        folder.write_summary(summary)
    return summary
