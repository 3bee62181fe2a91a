"""`sftdebug hallucination` as one typed call: the same run the command makes, from a notebook, a script or CI.

    from sftdebug.hallucination import HallucinationConfig, run
    result = run(HallucinationConfig(base="reports/lab-test/base", sft="reports/lab-test/sft-conflict"))
    result.summary["narrow_hallucination_rate"], result.records()   # the summary; the facts as a DataFrame

Several SFT checkpoints (or a quoted pattern, "out/checkpoint-*") make a trend: one run per checkpoint, the
base phase shared. Probes default to the lab's own for a lab model, else the built-in sets. Everything that can
be checked is checked before the run folder exists (one-line UsageErrors; nothing half-written).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sftdebug.core.runs import RunResult
from sftdebug.engines.config import EngineConfig
from sftdebug.engines.shared import ModelSet
from sftdebug.hallucination.schema import HallucinationSummary, TrendSummary

# the arguments a resumed run must share with the run it continues
IDENTITY = ["base", "sft", "probes", "samples", "temperature", "seed", "system", "max_new_tokens", "limit",
            "base_prompt", "shots", "shard"]  # fmt: skip


@dataclass(frozen=True)
class HallucinationConfig:
    base: str  # base (pretrained) model: folder, hub id, GGUF file or served name
    sft: str | Sequence[str]  # SFT (chat) model; several, or a pattern ('out/checkpoint-*'): a trend
    probes: Sequence[str] = ()  # probe JSONL files (default: the lab's probes for a lab model, else built-in)
    builtin: str = "en,zh"  # built-in probe languages when no probes are given
    limit: int | None = None  # only the first N probes
    samples: int = 0  # sampled answers per phrasing, for knowledge categories
    temperature: float = 1.0  # for samples
    system: str | None = None  # system prompt for the SFT side (a probe's own wins)
    max_new_tokens: int = 64  # SFT answer length limit
    seed: int = 0
    base_prompt: str = "auto"  # auto | few-shot | zero-shot (elicit.py)
    shots: int = 3  # exemplars per few-shot base prompt
    engine: EngineConfig = field(default_factory=EngineConfig)
    out: str | None = None  # run folder (default: reports/hallucination/<time>)
    resume: bool = False  # continue an interrupted run in `out`
    overwrite: bool = False  # replace an existing run in `out`
    csv: str | None = None  # also write the per-fact records as CSV here
    shard: str | None = None  # "I/N": only the I-th of N parts of the probes (`sftdebug merge` joins the N runs)


@dataclass(frozen=True)
class HallucinationResult(RunResult[HallucinationSummary | TrendSummary]):
    """A run's (or a trend's) folder, summary.json and report.html."""

    trend: bool = False  # several checkpoints: the summary is the trend's, each checkpoint has its own run


def resolve_probe_files(cfg: HallucinationConfig) -> list[str]:
    """The probes as given; else the lab's own probes for a lab model; else the built-in sets."""
    from sftdebug.core.labs import LabLayout
    from sftdebug.facts.probes import builtin_probe_files

    if cfg.probes:
        return list(cfg.probes)
    lab = LabLayout.of_model(cfg.base)
    if lab is not None and lab.probes.is_file():
        return [str(lab.probes)]
    return [str(p) for p in builtin_probe_files(cfg.builtin)]


def settings_of(cfg: HallucinationConfig) -> Any:
    """The phases' settings (a HallucinationSettings) from the config, checked (one-line UsageErrors)."""
    from sftdebug.core.errors import UsageError
    from sftdebug.hallucination.phases import HallucinationSettings

    if cfg.samples < 0 or cfg.max_new_tokens < 1 or cfg.temperature <= 0:
        raise UsageError("--samples must be >= 0, --max-new-tokens >= 1 and --temperature > 0")
    if cfg.shots < 1:
        raise UsageError(f"--shots must be >= 1, got {cfg.shots}")
    if cfg.limit is not None and cfg.limit < 1:
        raise UsageError(f"--limit must be >= 1, got {cfg.limit}")
    return HallucinationSettings(
        samples=cfg.samples,
        temperature=cfg.temperature,
        sft_max_new_tokens=cfg.max_new_tokens,
        seed=cfg.seed,
        system=cfg.system,
        base_prompt=cfg.base_prompt,
        shots=cfg.shots,
    )


def run(cfg: HallucinationConfig) -> HallucinationResult:
    """Run the base phase, the SFT phase(s) and the verdicts; write the run folder, its summary and report."""
    from sftdebug.core.errors import UsageError
    from sftdebug.core.runs import RunFolder, default_out, load_run, recorded_args
    from sftdebug.core.shards import parse_shard
    from sftdebug.engines.config import quiet_libraries
    from sftdebug.facts.probes import load_probe_files
    from sftdebug.hallucination.phases import run_hallucination
    from sftdebug.hallucination.shards import run_shard
    from sftdebug.hallucination.trend import expand_checkpoints
    from sftdebug.report import terminal as console
    from sftdebug.report.build import build_report

    settings = settings_of(cfg)
    shard = parse_shard(cfg.shard)
    files = resolve_probe_files(cfg)
    probes = load_probe_files(files)[: cfg.limit] if cfg.limit else load_probe_files(files)
    sfts = expand_checkpoints([cfg.sft] if isinstance(cfg.sft, str) else list(cfg.sft))
    if shard is not None and len(sfts) > 1:
        raise UsageError("--shard: one --sft at a time (shard each checkpoint's run, not a trend)")
    out = cfg.out or default_out("hallucination")
    RunFolder.precheck(out, cfg.resume, cfg.overwrite)
    quiet_libraries()
    # Everything that can be checked is checked before the run folder exists (nothing half-written).
    eng = cfg.engine
    eng.check_models(cfg.base, side="base")
    eng.check_models(*sfts, side="sft", base=cfg.base)
    for sft in sfts:
        _check_sft_template(eng, sft)
    args = recorded_args(cfg) | {"probes": files}  # config.json's `args`, under the flags' names
    if shard is not None:
        args["shard"] = shard.record([p.id for p in probes])
    models = ModelSet(eng, cfg.base, sfts)
    if len(sfts) > 1:
        return _run_trend(cfg, args | {"sft": sfts}, probes, settings, out, models, sfts)
    with (
        models,
        RunFolder.open(
            out,
            "hallucination",
            args | {"sft": sfts[0]},
            resume=cfg.resume,
            overwrite=cfg.overwrite,
            identity=IDENTITY,
            retry=eng.retry,
        ) as run_folder,
        console.progress_bars() as bar,
    ):
        open_sft = partial(models.open_sft, sfts[0])
        summary = (
            run_hallucination(models.open_base, open_sft, probes, settings, run_folder, bar)
            if shard is None
            else run_shard(models.open_base, open_sft, probes, settings, run_folder, bar, shard)
        )
    if cfg.csv:
        load_run(out).to_csv(cfg.csv, index=False)
    return HallucinationResult(Path(out), summary, build_report([out]))


def _run_trend(
    cfg: HallucinationConfig,
    args: dict[str, Any],
    probes: list[Any],
    settings: Any,
    out: str,
    models: ModelSet,
    sfts: list[str],
) -> HallucinationResult:
    """Several SFT checkpoints: one subfolder run each (checkpoints/NN-name), the base phase shared."""
    from sftdebug.core.runs import RunFolder
    from sftdebug.hallucination.phases import run_trend
    from sftdebug.hallucination.trend import ordered_checkpoints
    from sftdebug.report import terminal as console
    from sftdebug.report.build import build_report

    eng = cfg.engine
    checkpoints = ordered_checkpoints(sfts)

    def open_checkpoint_run(ckpt: dict[str, Any]) -> RunFolder:
        sub = Path(out) / "checkpoints" / ckpt["name"]
        return RunFolder.open(
            sub,
            "hallucination",
            {**args, "sft": ckpt["path"], "step": ckpt["step"]},
            resume=cfg.resume,
            overwrite=not cfg.resume,
            identity=IDENTITY,
            retry=eng.retry,
        )

    with (
        models,
        RunFolder.open(
            out,
            "hallucination_trend",
            args,
            resume=cfg.resume,
            overwrite=cfg.overwrite,
            identity=IDENTITY,
            retry=eng.retry,
        ) as top,
        console.progress_bars() as bar,
    ):
        summary = run_trend(
            models.open_base,
            models.open_sft,
            probes,
            settings,
            top,
            checkpoints,
            open_checkpoint_run,
            bar,
        )
    for ckpt in checkpoints:
        build_report([Path(out) / "checkpoints" / ckpt["name"]])
    return HallucinationResult(Path(out), summary, build_report([out]), trend=True)


def _check_sft_template(eng: EngineConfig, sft: str) -> None:
    """The SFT model answers through its chat template: one without a template is refused before the base
    phase runs (an endpoint renders its own; with a tokenizer we can check that one)."""
    from sftdebug.core.chat import render_chat
    from sftdebug.engines.source import resolve_tokenizer

    if eng.engine == "openai" and not eng.tokenizer:
        return
    from transformers import AutoTokenizer

    folder = resolve_tokenizer(eng.tokenizer if eng.tokenizer and eng.engine == "openai" else sft)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=eng.trust_remote_code)
    tokenizer.name_or_path = sft
    render_chat(tokenizer, [{"role": "user", "content": "?"}])
