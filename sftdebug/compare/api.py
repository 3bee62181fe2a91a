"""`sftdebug compare` as one typed call: two hallucination runs over the same probes, paired fact by fact.

    from sftdebug.compare import CompareConfig, run
    result = run(CompareConfig(run_a="reports/hallucination/before", run_b="reports/hallucination/after"))
    result.summary["fixed"], result.summary["broken"], result.page   # the paired counts; the HTML page

It writes no run folder: one HTML page (default RUN_B/compare.html) and its data beside it (.json).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sftdebug.compare.schema import Comparison, RunRef


@dataclass(frozen=True)
class CompareConfig:
    run_a: str  # the earlier / reference hallucination run folder
    run_b: str  # the run compared against it
    out: str | None = None  # HTML page (default: RUN_B/compare.html); its data beside it (.json)


@dataclass(frozen=True)
class CompareResult:
    """The comparison (what compare.json holds: paired counts, McNemar's test, the facts that changed), the HTML
    page and the JSON file it was written to."""

    summary: Comparison
    page: Path
    data: Path


def run(cfg: CompareConfig) -> CompareResult:
    """Pair the two runs' facts; write the page and its data."""
    from sftdebug.compare.paired import compare_runs
    from sftdebug.compare.report import render_page
    from sftdebug.core.errors import UsageError
    from sftdebug.core.io import write_json_atomic, write_text_atomic
    from sftdebug.core.runs import read_config, read_records, read_summary

    runs = []
    for folder in (cfg.run_a, cfg.run_b):
        config = read_config(folder)
        if config.get("kind") != "hallucination":
            raise UsageError(f"{folder} is a {config.get('kind')} run, not a hallucination run")
        read_summary(folder)  # a finished run with a readable summary (not a list, not torn), or one line
        runs.append((config, read_records(folder)))
    out = Path(cfg.out) if cfg.out else Path(cfg.run_b) / "compare.html"
    if out.is_dir():
        raise UsageError(f"--out {out}: is a folder; give the HTML file's path")
    result = compare_runs(runs[0][1], runs[1][1])
    result["run_a"], result["run_b"] = (
        _ref(folder, config) for folder, (config, _) in zip((cfg.run_a, cfg.run_b), runs, strict=True)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out.with_suffix(".json"), result)
    write_text_atomic(out, render_page(result))
    return CompareResult(result, out, out.with_suffix(".json"))


def _ref(folder: str, config: dict[str, Any]) -> RunRef:
    """Which run: its folder, and the models its config.json names."""
    args = config.get("args", {})
    return {"path": str(folder), "sft": args.get("sft"), "base": args.get("base")}
