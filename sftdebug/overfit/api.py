"""`sftdebug overfit make|eval|run` as typed calls: special-token facts to measure memorisation, overfitting and
collateral damage.

    from sftdebug.overfit import FactSetConfig, OverfitConfig, OverfitEvalConfig, make, run, run_eval
    make(FactSetConfig(out="facts", n_facts=50))                                # `overfit make`: a fact set
    run_eval(OverfitEvalConfig(model="ckpt", facts="facts", base="base"))       # `overfit eval`: one checkpoint
    result = run(OverfitConfig(base="reports/lab-test/base", epochs=(2, 25)))   # `overfit run`: train + evaluate
    result.summary["settings"]                                                  # the dose-response, per setting

A lab base brings its own SFT data, probes and reference texts; another base needs them given. Everything that can
be checked is checked before the run folder exists (one-line UsageErrors; nothing half-written).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sftdebug.core.runs import RunResult
from sftdebug.engines.config import EngineConfig

# the arguments a resumed run must share with the run it continues
EVAL_IDENTITY = ["model", "facts", "base"]
SWEEP_IDENTITY = ["base", "sft_data", "facts", "n_facts", "seed", "method", "lora_rank", "lora_alpha", "lora_targets"]


@dataclass(frozen=True)
class FactSetConfig:
    out: str  # fact-set folder
    n_facts: int = 50
    relations: Sequence[str] = ("likes", "mentors")  # of likes, mentors, admires, follows
    repeats: int = 3  # copies of each trained fact in train.jsonl
    control_share: float = 0.2  # share of facts never trained (controls)
    seed: int = 0


@dataclass(frozen=True)
class FactSet:
    """A fact set on disk (tokens.json, facts.jsonl, train.jsonl, eval.jsonl) and what it holds."""

    path: Path
    info: dict[str, Any]


@dataclass(frozen=True)
class OverfitEvalConfig:
    model: str  # the SFT checkpoint trained with the facts
    facts: str  # fact-set folder from `make`
    base: str | None = None  # the base model: enables collateral-damage measures
    probes: str | None = None  # probe file for the narrow-hallucination rate (default: the lab's)
    reference: str | None = None  # reference texts for perplexity drift (default: the lab's)
    engine: EngineConfig = field(default_factory=EngineConfig)
    out: str | None = None  # run folder (default: reports/overfit/<time>)
    resume: bool = False  # continue an interrupted run in `out`
    overwrite: bool = False  # replace an existing run in `out`


@dataclass(frozen=True)
class OverfitConfig:
    base: str  # the base model to fine-tune (a lab base brings its SFT data, probes and reference texts)
    sft_data: str | None = None  # SFT data (messages or alpaca JSONL; default: the lab's)
    facts: str | None = None  # fact set (default: made with n_facts in OUT/facts)
    n_facts: int = 40
    epochs: Sequence[int] = (1, 3, 10, 30)
    lrs: Sequence[float] = (1e-3,)
    batch_size: int = 16  # training batch
    seed: int = 0
    method: str = "full"  # full fine-tuning, or "lora": a PEFT LoRA adapter per setting (new tokens' rows trained)
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_targets: str = "all-linear"  # PEFT target_modules: "all-linear" or comma-separated module names
    probes: str | None = None  # probe file for the narrow-hallucination rate (default: the lab's)
    reference: str | None = None  # reference texts for perplexity drift (default: the lab's)
    engine: EngineConfig = field(default_factory=EngineConfig)  # the evaluation engine (training is sftdebug's)
    out: str | None = None  # run folder (default: reports/overfit/<time>)
    resume: bool = False  # continue an interrupted run in `out`
    overwrite: bool = False  # replace an existing run in `out`


@dataclass(frozen=True)
class OverfitResult(RunResult[dict[str, Any]]):
    """An `overfit eval` folder (summary: recall, exposure, embeddings, collateral) or an `overfit run` folder
    (summary: the dose-response; one evaluation folder per setting, named by its `key`)."""


def make(cfg: FactSetConfig) -> FactSet:
    """Write a new fact set into `cfg.out`."""
    from sftdebug.core.errors import UsageError
    from sftdebug.overfit.factset import make_dir

    if cfg.n_facts < 2 or cfg.repeats < 1 or not 0 <= cfg.control_share < 1:
        raise UsageError("--n-facts must be >= 2, --repeats >= 1 and --control-share in [0, 1)")
    info = make_dir(Path(cfg.out), cfg.n_facts, list(cfg.relations), cfg.repeats, cfg.control_share, cfg.seed)
    return FactSet(Path(cfg.out), info)


def _collateral(base: str | None, probes: str | None, reference: str | None) -> Any:
    from sftdebug.core.errors import UsageError
    from sftdebug.overfit.evaluate import Collateral
    from sftdebug.overfit.sweep import lab_defaults, reference_texts

    if base is None:
        return None
    probe_file = probes or lab_defaults(base)[1]
    if probe_file is None:
        raise UsageError("--base is not a lab model: give --probes FILE for the narrow-hallucination rate")
    return Collateral(base=base, probes=str(probe_file), reference=reference_texts(base, reference))


def _reports(run_dir: Path) -> Path:
    """report.html for an overfit evaluation folder and for its collateral hallucination sub-run."""
    from sftdebug.report.build import build_report

    if (run_dir / "collateral" / "summary.json").is_file():
        build_report([run_dir / "collateral"])
    return build_report([run_dir])


def run_eval(cfg: OverfitEvalConfig) -> OverfitResult:
    """Recall per question form, exposure, embedding movement and (with `base`) collateral damage of one model."""
    from sftdebug.core.runs import RunFolder, default_out, recorded_args
    from sftdebug.engines.config import quiet_libraries
    from sftdebug.overfit.evaluate import evaluate
    from sftdebug.overfit.factset import load_dir
    from sftdebug.report import terminal as console

    load_dir(Path(cfg.facts))  # validate before anything is written
    collateral = _collateral(cfg.base, cfg.probes, cfg.reference)
    out = cfg.out or default_out("overfit")
    RunFolder.precheck(out, cfg.resume, cfg.overwrite)
    quiet_libraries()
    eng = cfg.engine
    eng.options()  # the engine settings are checked now, not when the first model loads inside the run
    eng.check_models(cfg.model, *([cfg.base] if cfg.base else []))
    with (
        RunFolder.open(
            out,
            "overfit",
            recorded_args(cfg, one_model=True),
            resume=cfg.resume,
            overwrite=cfg.overwrite,
            identity=EVAL_IDENTITY,
            retry=eng.retry,
        ) as folder,
        console.progress_bars() as bar,
    ):
        summary = evaluate(eng.load, cfg.model, Path(cfg.facts), folder, bar, collateral)
    return OverfitResult(Path(out), summary, _reports(Path(out)))


def _check_sweep(cfg: OverfitConfig) -> None:
    from sftdebug.core.errors import UsageError

    if cfg.n_facts < 2 or cfg.batch_size < 1:
        raise UsageError(f"--n-facts must be >= 2 and --batch-size >= 1 (got {cfg.n_facts}, {cfg.batch_size})")
    for flag, values in (("--epochs", cfg.epochs), ("--lrs", cfg.lrs)):
        if not values or any(v <= 0 for v in values):
            raise UsageError(f"{flag}: expected positive values, got {','.join(map(str, values))!r}")
    if cfg.method not in ("full", "lora"):
        raise UsageError(f"--method must be full or lora, got {cfg.method!r}")
    if cfg.method == "lora":
        if cfg.lora_rank < 1 or cfg.lora_alpha < 1 or not cfg.lora_targets.strip():
            raise UsageError("--lora-rank and --lora-alpha must be >= 1, --lora-targets not empty")
        from sftdebug.engines.adapter import require_peft

        require_peft()  # PEFT installed, said before anything is written


def run(cfg: OverfitConfig) -> OverfitResult:
    """Train one checkpoint per epochs × lr setting on the SFT data plus the facts, evaluate each; write the run
    folder (one evaluation folder per setting), the dose-response summary and the reports."""
    from sftdebug.core.errors import UsageError
    from sftdebug.core.runs import RunFolder, default_out, recorded_args
    from sftdebug.engines.config import quiet_libraries
    from sftdebug.engines.source import check_remote_code, resolve_model
    from sftdebug.overfit.factset import make_dir
    from sftdebug.overfit.sweep import lab_defaults, lora_spec, read_conversations, sweep
    from sftdebug.report import terminal as console
    from sftdebug.report.build import build_report

    _check_sweep(cfg)
    sft_data = cfg.sft_data or lab_defaults(cfg.base)[0]
    if sft_data is None:
        raise UsageError("--base is not a lab model: give --sft-data FILE (messages or alpaca rows)")
    convs = read_conversations(Path(sft_data))
    collateral = _collateral(cfg.base, cfg.probes, cfg.reference)
    out = Path(cfg.out or default_out("overfit"))
    RunFolder.precheck(out, cfg.resume, cfg.overwrite)
    quiet_libraries()
    eng = cfg.engine
    check_remote_code(resolve_model(cfg.base), cfg.base, eng.trust_remote_code)  # trained here, whatever the engine
    eng.options()  # the evaluation engine's settings, checked before the run folder exists
    # the training batch is recorded as `batch_size` (the command's one --batch-size flag serves both)
    args = recorded_args(cfg, one_model=True) | {"batch_size": cfg.batch_size}
    with (
        RunFolder.open(
            out,
            "overfit_sweep",
            args,
            resume=cfg.resume,
            overwrite=cfg.overwrite,
            identity=SWEEP_IDENTITY,
            retry=eng.retry,
        ) as top,
        console.progress_bars() as bar,
    ):
        facts_dir = Path(cfg.facts) if cfg.facts else out / "facts"
        if not cfg.facts and not (facts_dir / "tokens.json").is_file():
            make_dir(facts_dir, cfg.n_facts, ("likes", "mentors"), 3, 0.2, cfg.seed)
        settings = [(e, lr) for lr in cfg.lrs for e in cfg.epochs]
        lora = lora_spec(cfg.lora_rank, cfg.lora_alpha, cfg.lora_targets) if cfg.method == "lora" else None
        summary = sweep(
            eng.load, cfg.base, facts_dir, convs, settings, top, collateral, cfg.batch_size, cfg.seed, bar, lora
        )
        top.write_summary(summary)
    for setting in summary["settings"]:
        _reports(out / setting["key"])
    return OverfitResult(out, summary, build_report([out]))
