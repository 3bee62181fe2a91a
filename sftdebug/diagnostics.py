"""Every command of sftdebug declared once: its command module, the run kinds it writes with their schema versions,
and the report module that renders each kind. The parser (`cli.py`), run folders (`core/runs.py`) and reports
(`report/build.py`) all read this table; adding a diagnostic adds one entry (docs/ARCHITECTURE.md).

Pure data and strings: importing it loads no diagnostic, so `sftdebug --help` stays instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Kind:
    """A kind of run folder: the shape of its records and summary.json, versioned (bump `schema` when it changes;
    a run written by a newer sftdebug is refused in one line instead of misread), and who renders it."""

    schema: int
    report: str  # module with render(config, summary, records), headline(summary) and the terminal view
    shards: str = ""  # module with ITEM and merge_shards(shards, run): runs of this kind take --shard I/N


@dataclass(frozen=True)
class Diagnostic:
    command: str  # `sftdebug COMMAND`
    cli: str  # module with register(subparsers), which sets the command's run(args)
    kinds: dict[str, Kind] = field(default_factory=dict)  # the run folders it writes


DIAGNOSTICS = (
    Diagnostic(
        "hallucination",
        "sftdebug.hallucination.cli",
        {
            "hallucination": Kind(1, "sftdebug.hallucination.report", "sftdebug.hallucination.shards"),
            "hallucination_trend": Kind(1, "sftdebug.hallucination.trend_report"),
        },
    ),
    # latency 2: robust TTFT fit, trust verdict, prediction band; 3: load levels (records' concurrency, summary's
    # levels and knee), the hinge TTFT model, prices
    Diagnostic("latency", "sftdebug.latency.cli", {"latency": Kind(3, "sftdebug.latency.report")}),
    Diagnostic(
        "overfit",
        "sftdebug.overfit.cli",
        {"overfit": Kind(1, "sftdebug.overfit.report"), "overfit_sweep": Kind(1, "sftdebug.overfit.report")},
    ),
    Diagnostic(
        "generate",
        "sftdebug.generate.cli",
        {"generate": Kind(1, "sftdebug.generate.report", "sftdebug.generate.shards")},
    ),
    Diagnostic("data", "sftdebug.data.cli", {"data": Kind(1, "sftdebug.data.report")}),
    Diagnostic("risk", "sftdebug.risk.cli", {"risk": Kind(1, "sftdebug.risk.report", "sftdebug.risk.shards")}),
    Diagnostic("parity", "sftdebug.parity.cli", {"parity": Kind(1, "sftdebug.parity.report")}),
    Diagnostic("watch", "sftdebug.hallucination.watch_cli"),  # writes hallucination_trend runs
    Diagnostic("lab", "sftdebug.lab.cli"),
    Diagnostic("compare", "sftdebug.compare.cli"),
    Diagnostic("merge", "sftdebug.merge.cli"),  # joins --shard runs of the kinds with a `shards` module
    Diagnostic("report", "sftdebug.report.cli"),
    Diagnostic("convert", "sftdebug.engines.cli"),
    Diagnostic("demo", "sftdebug.lab.demo"),
)
KINDS: dict[str, Kind] = {name: kind for d in DIAGNOSTICS for name, kind in d.kinds.items()}
