"""Build `report.html` for one or more run folders, from their files alone.

sftdebug report reports/demo/hallucination-sft-conflict --out report.html
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sftdebug.core.errors import UsageError
from sftdebug.core.io import write_text_atomic
from sftdebug.core.runs import read_config, read_records, read_summary
from sftdebug.report.html import REPLICA_COLUMNS, document, link, replica_rows, section, table


def section_module(kind: str) -> Any:
    """The kind's report module: its `render(config, summary, records) -> list[str]` (HTML parts) and
    `headline(summary) -> str` (one line for index pages)."""
    from sftdebug.diagnostics import KINDS

    if kind not in KINDS:
        raise UsageError(f"no report section for runs of kind {kind!r}")
    return importlib.import_module(KINDS[kind].report)


def _load(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    config = read_config(run_dir)
    return config, read_summary(run_dir), read_records(run_dir)


def run_sections(run_dir: Path) -> tuple[str, list[str]]:
    config, summary, records = _load(run_dir)
    kind = config.get("kind", "?")
    return kind, _render(kind, config, summary, records)


def _render(kind: str, config: dict[str, Any], summary: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    """The kind's sections, then (any kind) the endpoints' when the run used several replicas of a model."""
    parts: list[str] = section_module(kind).render(config, summary, records)
    if rows := replica_rows(summary):
        parts.append(section("Endpoints (replicas)", table(REPLICA_COLUMNS, rows, mono=[1])))
    return parts


def build_report(run_dirs: Sequence[str | Path], out: str | Path | None = None) -> Path:
    """One run: its report.html (in the run folder unless `out`). Several: one self-contained page with an
    index of the runs (kind and headline figures, linking to their sections) and a section each."""
    dirs = [Path(d) for d in run_dirs]
    if not dirs:
        raise UsageError("no run folders given")
    loaded = [_load(d) for d in dirs]
    target = Path(out) if out else dirs[0] / "report.html"
    subtitle = " · ".join(str(d) for d in dirs)
    if len(dirs) == 1:
        config, summary, records = loaded[0]
        kind = config.get("kind", "?")
        body = _render(kind, config, summary, records)
        write_text_atomic(target, document(f"sftdebug {kind}: {dirs[0].name}", subtitle, body))
        return target
    index, parts = [], []
    for i, (d, (config, summary, records)) in enumerate(zip(dirs, loaded, strict=True)):
        kind = config.get("kind", "?")
        module = section_module(kind)
        index.append([link(f"#run-{i}", d.name), kind, module.headline(summary)])
        parts.append(section(f"{kind}: {d.name}", *_render(kind, config, summary, records), anchor=f"run-{i}"))
    page = [section("Runs", table(["run", "kind", "headline"], index)), *parts]
    write_text_atomic(target, document(f"sftdebug: {len(dirs)} runs", subtitle, page))
    return target


def build_index(
    run_dirs: Sequence[Path], out: Path, title: str, pages: Sequence[tuple[Path, str, str, str]] = ()
) -> Path:
    """An index page linking each run's own report.html, with its kind and headline figures; `pages`: other
    pages to list, as (file, name, kind, headline) (e.g. a comparison of two runs)."""
    rows = []
    for d in run_dirs:
        config, summary, _ = _load(d)
        kind = config.get("kind", "?")
        headline = section_module(kind).headline(summary)
        rows.append([link(os.path.relpath(d / "report.html", out.parent), d.name), kind, headline])
    rows += [[link(os.path.relpath(f, out.parent), name), kind, headline] for f, name, kind, headline in pages]
    write_text_atomic(
        out, document(title, f"{len(rows)} runs", [section("Runs", table(["run", "kind", "headline"], rows))])
    )
    return out
