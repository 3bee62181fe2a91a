"""`sftdebug merge RUN... --out RUN`: shard runs (`--shard I/N`) joined into one run folder."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    m = sub.add_parser("merge", help="join the run folders of --shard I/N runs into the run an unsharded run writes")
    m.add_argument("runs", nargs="+", metavar="RUN", help="the shards' run folders (all N of them, any order)")
    m.add_argument("--out", required=True, help="the merged run folder")
    m.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    m.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The library call and the merged run's terminal summary."""
    import importlib

    from sftdebug.diagnostics import KINDS
    from sftdebug.merge.api import MergeConfig
    from sftdebug.merge.api import run as merge
    from sftdebug.report import terminal as console

    result = merge(MergeConfig(runs=args.runs, out=args.out, overwrite=args.overwrite))
    report = importlib.import_module(KINDS[result.summary["kind"]].report)
    if hasattr(report, "print_summary"):
        report.print_summary(result.summary, str(result.path))
    else:
        console.kv("summary", result.summary)
    console.note(f"merged {len(args.runs)} shards · records: {result.path}/records.jsonl · report: {result.report}")
    return 0
