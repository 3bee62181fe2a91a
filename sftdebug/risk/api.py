"""`sftdebug risk` as one typed call: what the base model already believes about each row of an SFT file.

    from sftdebug.risk import RiskConfig, run
    result = run(RiskConfig(base="reports/lab-test/base", data="reports/lab-test/data/sft-conflict.jsonl"))
    result.summary["conflicts_share"], result.records()   # the summary; one row per SFT row as a DataFrame

Probes default to the lab's own for a lab base, and the prediction to the base's lab's measured curve (another
lab's with `calibration`). Everything that can be checked is checked before the run folder exists (one-line
UsageErrors; nothing half-written). `write_filtered` / `write_relabelled` write copies of the data without (or
with relabelled answers of) the rows labelled one of `drop`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sftdebug.core.runs import RunResult
from sftdebug.engines.config import EngineConfig

# the arguments a resumed run must share with the run it continues
IDENTITY = ["base", "data", "format", "probes", "shots", "exemplar_sets", "samples", "temperature", "seed",
            "max_answer_words", "limit", "shard"]  # fmt: skip
DROPPABLE = ("conflicts", "unknown", "weakly_known")


@dataclass(frozen=True)
class RiskConfig:
    base: str  # base (pretrained) model: folder, hub id, .gguf or served name
    data: str  # SFT data file (JSON array or JSONL)
    format: str = "auto"  # auto | messages | sharegpt | alpaca
    domain_field: str | None = None  # row field naming each row's domain, for a breakdown
    probes: Sequence[str] = ()  # probe JSONL files (default for a lab base: the lab's probes)
    shots: int = 4  # few-shot exemplars per prompt
    exemplar_sets: int = 3  # different exemplar sets per row
    samples: int = 8  # sampled answers per row at `temperature`
    temperature: float = 0.5
    max_answer_words: int = 8  # longer answers are not_factual
    seed: int = 0
    limit: int | None = None  # only the first N rows
    calibration: str | None = None  # a lab folder whose measured curve predicts the effect (default: the base's)
    write_filtered: str | None = None  # write the data without the `drop` rows here
    write_relabelled: str | None = None  # write the data with the `drop` answers relabelled here
    drop: str = "conflicts,unknown"  # comma list of labels to drop / relabel (of DROPPABLE)
    relabel_text: str = "I'm not sure."  # the answer relabelled rows get
    engine: EngineConfig = field(default_factory=EngineConfig)
    out: str | None = None  # run folder (default: reports/risk/<time>)
    resume: bool = False  # continue an interrupted run in `out`
    overwrite: bool = False  # replace an existing run in `out`
    shard: str | None = None  # "I/N": only the I-th of N parts of the rows (`sftdebug merge` joins the N runs)


@dataclass(frozen=True)
class RiskResult(RunResult[dict[str, Any]]):
    """A risk run's folder, summary.json and report.html; and how many rows the filtered copy dropped and turns
    the relabelled copy relabelled (None: that copy was not asked for)."""

    dropped: int | None = None
    relabelled: int | None = None


def drop_labels(drop: str) -> list[str]:
    """The labels of a `drop` setting ("conflicts,unknown"), sorted; a UsageError for an unknown one."""
    from sftdebug.core.errors import UsageError

    labels = {d.strip() for d in drop.split(",") if d.strip()}
    if not labels or labels - set(DROPPABLE):
        raise UsageError(f"--drop {drop!r}: expected a comma list of {', '.join(DROPPABLE)}")
    return sorted(labels)


def _check(cfg: RiskConfig) -> None:
    """The settings, before anything is read or written."""
    import os

    from sftdebug.core.errors import UsageError

    for flag, value, low in (("--shots", cfg.shots, 1), ("--exemplar-sets", cfg.exemplar_sets, 1),
                             ("--samples", cfg.samples, 0), ("--max-answer-words", cfg.max_answer_words, 1),
                             ("--limit", cfg.limit if cfg.limit is not None else 1, 1)):  # fmt: skip
        if value < low:
            raise UsageError(f"{flag} must be >= {low}, got {value}")
    if cfg.temperature <= 0:
        raise UsageError(f"--temperature must be > 0, got {cfg.temperature}")
    drop_labels(cfg.drop)
    for flag, path in (("--write-filtered", cfg.write_filtered), ("--write-relabelled", cfg.write_relabelled)):
        if path and os.path.abspath(path) == os.path.abspath(cfg.data):
            raise UsageError(f"{flag} {path}: would overwrite the input data")
        if path and os.path.isdir(path):
            raise UsageError(f"{flag} {path}: is a folder; give a file path")


def run(cfg: RiskConfig) -> RiskResult:
    """Label every row by what the base believes; write the run folder, its summary and report (and the
    filtered / relabelled copies asked for)."""
    from sftdebug.core.errors import UsageError
    from sftdebug.core.labs import LabLayout
    from sftdebug.core.runs import RunFolder, default_out, read_records, recorded_args
    from sftdebug.core.shards import ShardView, parse_shard
    from sftdebug.engines.config import quiet_libraries
    from sftdebug.facts.probes import load_probe_files
    from sftdebug.report import terminal as console
    from sftdebug.report.build import build_report
    from sftdebug.risk.phases import RiskSettings, assess
    from sftdebug.risk.write import rewrite
    from sftdebug.sftdata.formats import load_sft_file

    _check(cfg)
    shard = parse_shard(cfg.shard)
    if shard is not None and (cfg.write_filtered or cfg.write_relabelled):
        raise UsageError("--shard labels part of the rows: --write-filtered/--write-relabelled need them all")
    data = load_sft_file(cfg.data, cfg.format, cfg.domain_field)
    lab = LabLayout.of_model(cfg.base)
    probe_files = list(cfg.probes) or ([str(lab.probes)] if lab and lab.probes.is_file() else [])
    probes = load_probe_files(probe_files) if probe_files else []
    curve = _curve(cfg.calibration, lab)
    settings = RiskSettings(shots=cfg.shots, exemplar_sets=cfg.exemplar_sets, samples=cfg.samples,
                            temperature=cfg.temperature, max_answer_words=cfg.max_answer_words, seed=cfg.seed)  # fmt: skip
    out = cfg.out or default_out("risk")
    RunFolder.precheck(out, cfg.resume, cfg.overwrite)
    quiet_libraries()
    eng = cfg.engine
    eng.options()
    eng.check_models(cfg.base)
    args = recorded_args(cfg, one_model=True) | {"probes": probe_files, "format": data.format}
    keys = [row.where for row in (data.rows[: cfg.limit] if cfg.limit else data.rows)]
    if shard is not None:  # every row still makes the exemplar pool and its screen: the shard labels its own
        args["shard"] = shard.record(keys)
    with RunFolder.open(
        out, "risk", args, resume=cfg.resume, overwrite=cfg.overwrite, identity=IDENTITY, retry=eng.retry
    ) as folder:
        engine = eng.load(cfg.base)
        try:
            with console.progress_bars() as bar:
                view = folder if shard is None else cast(RunFolder, ShardView(folder, shard.keys(keys)))
                summary = assess(engine, data, probes, settings, view, bar, curve, cfg.limit)
        finally:
            engine.close()
        records = read_records(folder.path)
    drop = set(drop_labels(cfg.drop))
    dropped = rewrite(cfg.data, data.format, cfg.write_filtered, records, drop) if cfg.write_filtered else None
    relabelled = (
        rewrite(cfg.data, data.format, cfg.write_relabelled, records, drop, cfg.relabel_text)
        if cfg.write_relabelled
        else None
    )
    return RiskResult(Path(out), summary, build_report([out]), dropped, relabelled)


def calibration_curve(base: str, calibration: str | None) -> list[dict[str, Any]]:
    """The curve a run of `base` predicts from (see `RiskConfig.calibration`)."""
    from sftdebug.core.labs import LabLayout

    return _curve(calibration, LabLayout.of_model(base))


def _curve(calibration: str | None, lab: Any) -> list[dict[str, Any]]:
    """The measured curve of `calibration` (a lab folder; default: the base's own lab); [] when there is none."""
    import json

    from sftdebug.core.errors import UsageError
    from sftdebug.core.labs import LabLayout

    layout = LabLayout(Path(calibration)) if calibration else lab
    if layout is None:
        return []
    if not layout.info.is_file():
        raise UsageError(f"--calibration {calibration}: not a lab folder (no lab.json)")
    return list(json.loads(layout.info.read_text(encoding="utf-8")).get("risk_calibration", []))
