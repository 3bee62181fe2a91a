"""Build `report.html` for one or more run folders, from their files alone.

sftdebug report reports/demo/hallucination-sft-conflict --out report.html
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sftdebug.errors import UsageError
from sftdebug.report.html import document, link, section, table
from sftdebug.store import CONFIG, read_records, read_summary

# run kind -> the module under sftdebug.report that renders it
KINDS = {
    "hallucination": "hallucination",
    "generate": "generate",
    "data": "data",
    "latency": "latency",
    "overfit": "overfit",
    "overfit_sweep": "overfit",
}


def section_module(kind: str) -> Any:
    """`sftdebug.report.<kind>`: its `render(config, summary, records) -> list[str]` (HTML parts) and
    `headline(summary) -> str` (one line for index pages)."""
    if kind not in KINDS:
        raise UsageError(f"no report section for runs of kind {kind!r}")
    return importlib.import_module(f"sftdebug.report.{KINDS[kind]}")


def _load(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    if not (run_dir / CONFIG).is_file():
        raise UsageError(f"{run_dir} is not a run folder (no {CONFIG})")
    config = json.loads((run_dir / CONFIG).read_text(encoding="utf-8"))
    return config, read_summary(run_dir), read_records(run_dir)


def run_sections(run_dir: Path) -> tuple[str, list[str]]:
    config, summary, records = _load(run_dir)
    kind = config.get("kind", "?")
    return kind, section_module(kind).render(config, summary, records)


def write_html(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


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
        body = section_module(kind).render(config, summary, records)
        write_html(target, document(f"sftdebug {kind}: {dirs[0].name}", subtitle, body))
        return target
    index, parts = [], []
    for i, (d, (config, summary, records)) in enumerate(zip(dirs, loaded, strict=True)):
        kind = config.get("kind", "?")
        module = section_module(kind)
        index.append([link(f"#run-{i}", d.name), kind, module.headline(summary)])
        parts.append(section(f"{kind}: {d.name}", *module.render(config, summary, records), anchor=f"run-{i}"))
    page = [section("Runs", table(["run", "kind", "headline"], index)), *parts]
    write_html(target, document(f"sftdebug: {len(dirs)} runs", subtitle, page))
    return target


def build_index(run_dirs: Sequence[Path], out: Path, title: str) -> Path:
    """An index page linking each run's own report.html, with its kind and headline figures."""
    rows = []
    for d in run_dirs:
        config, summary, _ = _load(d)
        kind = config.get("kind", "?")
        headline = section_module(kind).headline(summary)
        rows.append([link(os.path.relpath(d / "report.html", out.parent), d.name), kind, headline])
    write_html(out, document(title, f"{len(rows)} runs", [section("Runs", table(["run", "kind", "headline"], rows))]))
    return out
