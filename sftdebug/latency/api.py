"""`sftdebug latency` as one typed call: generation time measured over a grid and fitted as b(p) + k·x.

    from sftdebug.latency import LatencyConfig, run
    result = run(LatencyConfig(model="reports/lab-test/base", prompt_lens=(8, 32, 128), output_lens=(1, 16, 64)))
    result.summary["fit"]["per_token_s"], result.records()   # the fit; one timed request per row
    run(LatencyConfig(model="m", concurrency=(1, 4, 16), price_per_hour=2.5, engine=EngineConfig(engine="openai", ...)))

With several `concurrency` levels the same grid is timed at each load level (`summary["levels"]`, `["knee"]`; see
latency/load.py); the top-level fit is the lowest level's.

With `baseline` (an earlier latency run) the summary also compares the two fits (`regression`). Everything that
can be checked is checked before the run folder exists (one-line UsageErrors; nothing half-written).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sftdebug.core.runs import RunResult
from sftdebug.engines.config import EngineConfig
from sftdebug.latency.schema import LatencySummary

# the arguments a resumed run must share with the run it continues
IDENTITY = ["model", "engine", "prompt_lens", "output_lens", "repeats"]


def _one_at_a_time() -> EngineConfig:
    # One request at a time unless asked: with more in flight an endpoint measures latency under load.
    return EngineConfig(concurrency=1)


@dataclass(frozen=True)
class LatencyConfig:
    model: str  # Hugging Face folder / hub id, or the served model name
    prompt_lens: Sequence[int] = (16, 64, 256, 1024)
    output_lens: Sequence[int] = (1, 16, 64, 256)
    repeats: int = 5  # timed requests per (prompt, output) cell
    warmup: int = 3  # untimed requests first
    what_if_prompts: Sequence[int] = (256, 2048)  # what-if prompt lengths
    what_if_answers: Sequence[int] = (32, 256)  # what-if answer lengths
    cot: int = 512  # extra chain-of-thought tokens priced in the what-if table
    # load levels (requests in flight) to sweep; empty: the engine's concurrency for an endpoint, else 1
    concurrency: Sequence[int] = ()
    price_per_hour: float | None = None  # dollars per hour of the server: prices every what-if point
    mem_bandwidth_gbs: float | None = None  # memory bandwidth, for the roofline floor
    peak_tflops: float | None = None  # peak dense TFLOP/s, for the roofline floor
    seed: int = 0
    baseline: str | None = None  # an earlier latency run folder to compare predictions with
    engine: EngineConfig = field(default_factory=_one_at_a_time)
    out: str | None = None  # run folder (default: reports/latency/<time>)
    resume: bool = False  # continue an interrupted run in `out`
    overwrite: bool = False  # replace an existing run in `out`


@dataclass(frozen=True)
class LatencyResult(RunResult[LatencySummary]):
    """A latency run's folder, summary.json (the fit, what-if table, roofline, baseline comparison) and report."""


def _check(cfg: LatencyConfig) -> None:
    from sftdebug.core.errors import UsageError

    if cfg.repeats < 1 or cfg.warmup < 0 or cfg.cot < 0:
        raise UsageError("--repeats must be >= 1, --warmup >= 0 and --cot >= 0")
    if cfg.price_per_hour is not None and not 0 < cfg.price_per_hour < math.inf:
        raise UsageError(f"--price-per-hour: expected a positive number of dollars, got {cfg.price_per_hour}")
    if cfg.concurrency and min(cfg.concurrency) < 1:
        raise UsageError(f"--concurrency: expected positive integers, got {','.join(map(str, cfg.concurrency))!r}")
    if cfg.engine.engine == "hf" and max(levels(cfg)) > 1:
        raise UsageError(
            "--concurrency above 1 needs a server that batches requests as they come: --engine vllm or openai"
        )
    for flag, lens in (("--prompt-lens", cfg.prompt_lens), ("--output-lens", cfg.output_lens),
                       ("--what-if-prompts", cfg.what_if_prompts), ("--what-if-answers", cfg.what_if_answers)):  # fmt: skip
        if not lens or min(lens) < 1:
            raise UsageError(f"{flag}: expected positive integers, got {','.join(map(str, lens))!r}")


def levels(cfg: LatencyConfig) -> tuple[int, ...]:
    """The load levels to sweep, lowest first."""
    if cfg.concurrency:
        return tuple(sorted(set(cfg.concurrency)))
    return (cfg.engine.concurrency,) if cfg.engine.engine == "openai" else (1,)


def hardware_facts(engine: Any, cfg: LatencyConfig) -> dict[str, Any]:
    """What the roofline needs: parameter count and bytes (engines that know them), and peak numbers from
    the settings or the known-GPU table."""
    from sftdebug.latency.fit import KNOWN_GPUS

    info = engine.info
    facts: dict[str, Any] = {"engine": cfg.engine.engine, "device": info.device}
    if info.n_params:
        facts.update(params=info.n_params, bytes_per_param=info.bytes_per_param)
    device = facts["device"] or ""
    known = next((v for k, v in KNOWN_GPUS.items() if k.lower() in device.lower()), None)
    bw, tflops = known if known else (None, None)
    facts["mem_bandwidth_gbs"] = cfg.mem_bandwidth_gbs or bw
    facts["peak_tflops"] = cfg.peak_tflops or tflops
    return facts


def run(cfg: LatencyConfig) -> LatencyResult:
    """Time every cell of the grid, fit the curve, compare with the baseline; write the run folder, its summary
    and report."""
    from sftdebug.core.runs import RunFolder, default_out
    from sftdebug.engines import load_engine
    from sftdebug.engines.config import quiet_libraries
    from sftdebug.latency.measure import SweepConfig
    from sftdebug.report.build import build_report

    _check(cfg)
    baseline = _baseline_fit(cfg.baseline) if cfg.baseline else None
    eng = cfg.engine
    sweep = SweepConfig(
        prompt_lens=tuple(cfg.prompt_lens),
        output_lens=tuple(cfg.output_lens),
        repeats=cfg.repeats,
        warmup=cfg.warmup,
        concurrency=levels(cfg),
        seed=cfg.seed,
    )
    out = cfg.out or default_out("latency")
    RunFolder.precheck(out, cfg.resume, cfg.overwrite)
    quiet_libraries()
    options = eng.options()
    eng.check_models(cfg.model)
    if eng.engine == "openai":
        options["concurrency"] = max(sweep.concurrency)  # the engine must not hold back what the sweep sends
    if eng.engine == "hf":
        options["batch_size"] = 1  # one request at a time: batching would blur per-request timing
    if eng.engine == "vllm":
        options["streaming"] = True  # per-token arrival times, not just TTFT and the decode span
        options["prefix_caching"] = False  # TTFT measures the prefill: a cached prefix would skip part of it
        options["kv_sequences"] = max(4, *sweep.concurrency)  # a KV cache for every request in flight
        # the grid, no more (unless --max-model-len asks for more)
        options["max_model_len"] = max(eng.max_model_len or 0, max(sweep.prompt_lens) + max(sweep.output_lens) + 16)
    engine = load_engine(eng.engine, cfg.model, **options)
    try:
        summary = _measure(cfg, sweep, engine, out, baseline)
    finally:
        engine.close()
    return LatencyResult(Path(out), summary, build_report([out]))


def _baseline_fit(path: str) -> dict[str, Any]:
    """The fit of an earlier latency run (checked before anything runs)."""
    from sftdebug.core.errors import UsageError
    from sftdebug.core.runs import read_config, read_summary

    if read_config(path).get("kind") != "latency":
        raise UsageError(f"--baseline {path}: not a latency run")
    fit: dict[str, Any] = read_summary(path)["fit"]
    return fit


def _measure(cfg: LatencyConfig, sweep: Any, engine: Any, out: str, baseline: dict[str, Any] | None) -> LatencySummary:
    from sftdebug.core.errors import UsageError
    from sftdebug.core.runs import RunFolder, recorded_args
    from sftdebug.latency.load import summarize_load
    from sftdebug.latency.measure import run_sweep
    from sftdebug.report import terminal as console

    limit = engine.info.max_positions
    if limit and max(sweep.prompt_lens) + max(sweep.output_lens) > limit:
        raise UsageError(
            f"prompt {max(sweep.prompt_lens)} + output {max(sweep.output_lens)} tokens exceed the model's "
            f"{limit} positions: choose smaller --prompt-lens / --output-lens"
        )
    args = {**recorded_args(cfg, one_model=True), "concurrency": list(sweep.concurrency)}
    with (
        RunFolder.open(
            out, "latency", args, resume=cfg.resume, overwrite=cfg.overwrite, identity=IDENTITY, retry=cfg.engine.retry
        ) as folder,
        console.progress_bars() as bar,
    ):
        records = run_sweep(engine, sweep, folder, bar)
        n_cells = len(sweep.prompt_lens) * len(sweep.output_lens) * sweep.repeats
        summary = summarize_load(
            records,
            sweep.concurrency,
            n_cells,
            (tuple(cfg.what_if_prompts), tuple(cfg.what_if_answers), cfg.cot),
            hardware_facts(engine, cfg),
            seed=cfg.seed,
            price_per_hour=cfg.price_per_hour,
        )
        summary["n_retried"] = len(folder.retried())
        if baseline is not None:
            from sftdebug.latency.baseline import compare

            block = compare(summary["fit"], baseline, tuple(cfg.what_if_prompts), tuple(cfg.what_if_answers))
            summary["baseline"] = {"run": cfg.baseline, **block}
            summary["regression"] = block["regression"]
        folder.write_summary(summary)
    return summary
