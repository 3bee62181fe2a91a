"""`sftdebug report`: rebuild HTML from run folders alone (see sftdebug/report/build.py)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    rep = sub.add_parser("report", help="rebuild the HTML report from run folders")
    rep.add_argument("runs", nargs="+", help="run folders")
    rep.add_argument("--out", default=None, help="HTML file (default: report.html in the run folder)")
    rep.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sftdebug.report import terminal as console
    from sftdebug.report.build import build_report

    console.note(f"report: {build_report(args.runs, args.out)}")
    return 0
