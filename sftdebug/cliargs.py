"""What every command's `cli.py` shares: the engine and run-folder flags, `--fail-above` gates, exit codes.

CLI plumbing, beside `cli.py` (above the library: it reads flags and prints). Each diagnostic's `cli.py` has
`register(subparsers)`, which sets its `run(args)` as the default; it imports only the standard library and this
module at module level (heavy imports live inside `run`), so that building the whole parser for `sftdebug --help`
stays instant. To add a command, declare it in `sftdebug/diagnostics.py`.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from sftdebug.core.errors import UsageError
from sftdebug.core.loop import RetryPolicy

if TYPE_CHECKING:
    from sftdebug.engines.config import EngineConfig


def add_engine_args(p: argparse.ArgumentParser, two_models: bool = False, batch_size: bool = True) -> None:
    """The engine flags. `batch_size=False` where the command has its own --batch-size (training)."""
    g = p.add_argument_group("engine")
    g.add_argument(
        "--engine",
        default="hf",
        choices=["hf", "vllm", "openai"],
        help="hf = transformers (default), vllm = in-process vLLM, openai = an OpenAI-compatible endpoint",
    )
    g.add_argument("--endpoint", action="append", help="--engine openai: server URL; repeat for replicas of one model")
    if two_models:
        g.add_argument(
            "--base-endpoint", action="append", help="--engine openai: the base model's servers (overrides --endpoint)"
        )
        g.add_argument(
            "--sft-endpoint", action="append", help="--engine openai: the SFT model's servers (overrides --endpoint)"
        )
    g.add_argument(
        "--api-key",
        default=None,
        help="--engine openai: API key (default: $OPENAI_API_KEY); never written to run folders",
    )
    g.add_argument(
        "--concurrency", type=int, default=8, help="--engine openai: requests in flight per endpoint (8; latency: 1)"
    )
    g.add_argument("--timeout", type=float, default=120.0, help="--engine openai: seconds per request (default 120)")
    g.add_argument(
        "--retry-rounds",
        type=int,
        default=RetryPolicy.rounds,
        help=f"rounds in which the run retries its failed items itself, pausing {RetryPolicy.backoff_s:.0f} s, "
        f"then twice as long each round, before it gives up on them (default {RetryPolicy.rounds}; 0: never)",
    )
    g.add_argument(
        "--tokenizer",
        default=None,
        help="--engine openai: local tokenizer folder/hub id, to render chat prompts and count tokens",
    )
    g.add_argument("--device", default=None, help="cuda, cuda:1, cpu… (default: cuda if available, else cpu)")
    g.add_argument(
        "--dtype",
        default=None,
        choices=["float32", "bfloat16", "float16"],
        help="default: bfloat16 on CUDA, float32 on CPU",
    )
    if batch_size:
        g.add_argument("--batch-size", type=int, default=16, help="prompts per forward pass (default 16)")
    g.add_argument(
        "--threads",
        type=int,
        default=None,
        help="--engine hf on CPU: torch threads (default: SFTDEBUG_THREADS, else the cores other processes are not "
        "busy with when the engine starts, at least 1; on a busy 2-core machine two threads ran a scoring batch 4.6x "
        "slower than one)",
    )
    g.add_argument(
        "--adapter-base",
        default=None,
        help="the base model to apply PEFT adapter folders on (default: the adapter's recorded "
        "base_model_name_or_path, else --base)",
    )
    g.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow a checkpoint's own Python code to run (only for checkpoints you trust)",
    )
    g.add_argument(
        "--device-map", default=None, help="--engine hf: 'auto' spreads a model larger than one device over all of them"
    )
    v = p.add_argument_group("vLLM engine arguments (--engine vllm; recorded in config.json)")
    for flag, kind, text in (
        ("--tensor-parallel-size", int, "GPUs to split each layer over"),
        ("--pipeline-parallel-size", int, "GPUs (or nodes) to split the layers over"),
        ("--data-parallel-size", int, "replicas of the model"),
        ("--gpu-memory-utilization", float, "share of each GPU's memory vLLM may take (vLLM's default 0.9)"),
        ("--quantization", str, "vLLM's quantization method, e.g. awq, gptq, fp8"),
        ("--max-model-len", int, "context to start with (default 2,048, at most the model's own)"),
        ("--distributed-executor-backend", str, "mp, ray (multi-node), uni or external_launcher"),
    ):
        v.add_argument(flag, type=kind, default=None, help=text)
    v.add_argument(
        "--vllm-arg",
        dest="vllm_args",
        action="append",
        type=_vllm_arg,
        default=[],
        metavar="KEY=VALUE",
        help="any other vLLM engine argument (repeatable; VALUE read as JSON, else as text), e.g. "
        "--vllm-arg max_num_seqs=64 --vllm-arg enable_chunked_prefill=false",
    )


def _vllm_arg(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip().replace("-", "_"), json.loads(value)
    except json.JSONDecodeError:
        return key.strip().replace("-", "_"), value


def engine_config(args: argparse.Namespace) -> EngineConfig:
    """The engine flags as the library's EngineConfig (flags a command does not have keep their defaults)."""
    from dataclasses import fields

    from sftdebug.engines.config import EngineConfig

    given = {f.name: getattr(args, f.name) for f in fields(EngineConfig) if hasattr(args, f.name)}
    if "vllm_args" in given:
        given["vllm_args"] = dict(given["vllm_args"])
    return EngineConfig(**given)


def add_fail_above(p: argparse.ArgumentParser, example: str) -> None:
    """`--fail-above METRIC=VALUE` (repeatable): exit 3 when a summary metric exceeds VALUE (see `check_gates`)."""
    p.add_argument(
        "--fail-above",
        action="append",
        default=[],
        metavar="METRIC=VALUE",
        help=f"exit 3 when a summary metric exceeds VALUE, e.g. {example}",
    )


def add_run_args(p: argparse.ArgumentParser, kind: str) -> None:
    p.add_argument("--out", default=None, help=f"run folder (default: reports/{kind}/<time>)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    g.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")


def add_shard_arg(p: argparse.ArgumentParser, items: str) -> None:
    p.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help=f"only the I-th (from 0) of N parts of the {items}, e.g. a Slurm array task's; `sftdebug merge` "
        "joins the N run folders into one",
    )


# What a gated metric is, which says what its limit may be: a share lies in [0, 1], a count is >= 0, a change
# (latency's relative regression) is any finite number (negative: demand a speed-up).
GateKind = Literal["share", "count", "change"]


def parse_fail_above(specs: list[str], metrics: Mapping[str, GateKind]) -> dict[str, float]:
    """`--fail-above` specs as {metric: limit}, checked against the command's gated `metrics` (name -> kind)
    before anything runs: an unknown metric or a limit no value can cross is a one-line UsageError."""
    gates = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        name = name.strip()
        try:
            limit = float(value)
        except ValueError:
            sep = ""
        if not sep or not name or not math.isfinite(limit):
            raise UsageError(f"--fail-above {spec!r}: expected METRIC=NUMBER, e.g. narrow_hallucination_rate=0.1")
        if name not in metrics:
            raise UsageError(f"--fail-above: {name!r} is not a gated metric here (have: {', '.join(metrics)})")
        if metrics[name] == "share" and not 0 <= limit <= 1:
            raise UsageError(f"--fail-above {spec!r}: {name} is a share; give a limit between 0 and 1")
        if metrics[name] == "count" and limit < 0:
            raise UsageError(f"--fail-above {spec!r}: {name} is a count; give a limit >= 0")
        gates[name] = limit
    return gates


def exit_code(summary: Mapping[str, Any], gates: dict[str, float] | None = None, what: str = "requests") -> int:
    """3 when a `--fail-above` gate fails, else 1 when items still failed after the run's own retry rounds
    (rerun with --resume), else 0. Items that needed retries and then succeeded are noted, not failed."""
    from sftdebug.report import terminal as console

    code = check_gates(gates or {}, summary)
    if summary.get("n_retried"):
        console.note(f"{summary['n_retried']} {what} needed retries (engine errors) before they succeeded")
    if summary.get("n_failed"):
        console.error(
            f"{summary['n_failed']} {what} still failed after the retry rounds and are not in the results: "
            "rerun with --resume"
        )
        code = code or 1
    return code


def check_gates(gates: dict[str, float], summary: Mapping[str, Any]) -> int:
    """Exit code 3 when a gated metric exceeds its limit (for CI), else 0. Names were checked before the run
    (`parse_fail_above`); a metric the run could not compute (None: e.g. no fact the base knew) fails its gate,
    since a CI gate that cannot be evaluated must not pass."""
    from sftdebug.report import terminal as console

    failed = 0
    for name, limit in gates.items():
        value = summary.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            console.error(f"gate failed: {name} has no value in this run")
            failed = 3
        elif value > limit:
            console.error(f"gate failed: {name} = {value:.4f} > {limit}")
            failed = 3
    return failed
