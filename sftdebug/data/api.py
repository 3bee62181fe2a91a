"""`sftdebug data` as one typed call: an SFT data file linted against the tokenizer and chat template training
will use, before any GPU time is spent.

    from sftdebug.data import DataConfig, run
    result = run(DataConfig(file="train.jsonl", tokenizer="path/to/model", max_len=2048))
    result.failed, result.summary["checks"], result.rows   # rows: one record per row, in file order

Everything that can be checked is checked before the run folder exists (one-line UsageErrors).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sftdebug.core.runs import RunResult
from sftdebug.sftdata.encode import LossOn

# the arguments a resumed run must share with the run it continues
IDENTITY = ["file", "tokenizer", "format", "max_len", "loss_on", "train_on_prompt", "domain_field", "show"]


@dataclass(frozen=True)
class DataConfig:
    file: str  # SFT data: JSON array or JSONL, OpenAI messages, ShareGPT or alpaca rows
    tokenizer: str  # model or tokenizer folder (or hub id) whose chat template trains
    format: str = "auto"  # auto | messages | sharegpt | alpaca
    max_len: int = 2048  # training sequence length
    loss_on: LossOn = "all"  # all | last: train every answer or the last
    train_on_prompt: bool = False  # prompt tokens take loss too
    domain_field: str | None = None  # row field naming each row's domain (default: detect)
    show: int = 3  # rows shown token by token
    max_bad_rows: float = 0.05  # share of malformed rows above which the lint fails
    trust_remote_code: bool = False  # allow the tokenizer's own Python code
    out: str | None = None  # run folder (default: reports/data/<time>)
    resume: bool = False  # continue an interrupted run in `out`
    overwrite: bool = False  # replace an existing run in `out`


@dataclass(frozen=True)
class DataResult(RunResult[dict[str, Any]]):
    """A data lint's folder, summary.json and report.html; `rows`: its records in the file's row order."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """A check failed (the command exits 1: the file should not be trained on as it is)."""
        return bool(self.summary["n_fail"])


def run(cfg: DataConfig) -> DataResult:
    """Encode every row as training will, run the checks; write the run folder, its summary and report."""
    from sftdebug.core.errors import UsageError
    from sftdebug.core.runs import RunFolder, default_out
    from sftdebug.report.build import build_report
    from sftdebug.sftdata.formats import load_sft_file

    if cfg.max_len < 1 or cfg.show < 0:
        raise UsageError("--max-len must be >= 1 and --show >= 0")
    if not 0 <= cfg.max_bad_rows <= 1:
        raise UsageError(f"--max-bad-rows must be a share between 0 and 1, got {cfg.max_bad_rows}")
    if cfg.loss_on not in ("all", "last"):
        raise UsageError(f"--loss-on {cfg.loss_on!r}: expected all or last")
    data = load_sft_file(cfg.file, cfg.format, cfg.domain_field)
    out = cfg.out or default_out("data")
    RunFolder.precheck(out, cfg.resume, cfg.overwrite)
    tokenizer, folder = _load_tokenizer(cfg.tokenizer, cfg.trust_remote_code)
    run_folder = RunFolder.open(out, "data", asdict(cfg), resume=cfg.resume, overwrite=cfg.overwrite, identity=IDENTITY)
    with run_folder:
        summary, records = _lint(cfg, data, tokenizer, folder, run_folder)
    return DataResult(Path(out), summary, build_report([out]), records)


def _load_tokenizer(name: str, trust_remote_code: bool) -> tuple[Any, Any]:
    from sftdebug.core.errors import UsageError
    from sftdebug.engines.config import quiet_libraries
    from sftdebug.engines.source import resolve_tokenizer

    quiet_libraries()
    from transformers import AutoTokenizer

    folder = resolve_tokenizer(name)
    try:
        return AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code), folder
    except Exception as exc:
        raise UsageError(f"--tokenizer {name!r}: cannot load a tokenizer ({str(exc).splitlines()[0][:160]})") from exc


def _lint(
    cfg: DataConfig, data: Any, tokenizer: Any, folder: Any, run_folder: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from sftdebug.data.checks import run_checks, summarize
    from sftdebug.data.lint import LintOptions, lint_rows, template_facts
    from sftdebug.report import terminal as console
    from sftdebug.sftdata.encode import eos_ids

    opts = LintOptions(max_len=cfg.max_len, loss_on=cfg.loss_on, train_on_prompt=cfg.train_on_prompt)
    eos = eos_ids(tokenizer, folder)
    facts = template_facts(tokenizer, sorted({m["role"] for r in data.rows for m in r.messages}), eos)
    with console.progress_bars() as bar:
        records = lint_rows(tokenizer, data.rows, eos, opts, run_folder, cfg.show, bar)
    bad = [(b.where, b.reason) for b in data.bad]
    checks = run_checks(
        records,
        facts,
        max_len=opts.max_len,
        loss_on=opts.loss_on,
        train_on_prompt=opts.train_on_prompt,
        by_field=cfg.domain_field is not None,
        bad=bad,
        max_bad_share=cfg.max_bad_rows,
        unknown_roles=dict(data.unknown_roles),
    )
    summary = {
        **summarize(records, checks, len(bad)),
        "format": data.format,
        "template": facts,
        "bad_rows": [{"row": w, "reason": why} for w, why in bad[:50]],
    }
    run_folder.write_summary(summary)
    return summary, records


def lint_batches(
    tokenizer: Any,
    batches: Any,
    eos: dict[int, str],
    out: str | Path,
    source: str,
    show: int = 3,
    overwrite: bool = True,
) -> DataResult:
    """The collator's own batches (dicts of input_ids, labels, attention_mask) checked like a data file
    (data/batches.py): written as a `data` run folder with its report; `source` names where they came from."""
    from sftdebug.core.runs import RunFolder
    from sftdebug.data.batches import batch_checks, batch_records, observed_policy
    from sftdebug.data.checks import summarize
    from sftdebug.data.lint import template_facts
    from sftdebug.report.build import build_report

    records = batch_records(tokenizer, batches, eos, show)
    facts = template_facts(tokenizer, ["user", "assistant"], eos)
    checks = batch_checks(records, facts)
    loss_on, train_on_prompt = observed_policy(records)
    args = {
        "file": source,
        "tokenizer": str(getattr(tokenizer, "name_or_path", "") or "the trainer's tokenizer"),
        "max_len": max((r["tokens"] for r in records), default=0),
        "loss_on": loss_on,
        "train_on_prompt": train_on_prompt,
        "batches": True,
    }
    with RunFolder.open(out, "data", args, overwrite=overwrite) as run_folder:
        run_folder.append(records)
        summary = {**summarize(records, checks, 0), "format": "collated batches", "template": facts}
        run_folder.write_summary(summary)
    return DataResult(Path(out), summary, build_report([out]), records)
