"""`sftdebug compare RUN_A RUN_B`: two hallucination runs over the same probes, paired fact by fact."""

from __future__ import annotations

import argparse
from typing import Any

from sftdebug.cliargs import add_fail_above


def register(sub: Any) -> None:
    cmp = sub.add_parser("compare", help="two hallucination runs side by side: facts fixed and broken, McNemar")
    cmp.add_argument("run_a", help="the earlier / reference hallucination run folder")
    cmp.add_argument("run_b", help="the run compared against it")
    cmp.add_argument("--out", default=None, help="HTML page (default: RUN_B/compare.html); its data beside it (.json)")
    add_fail_above(cmp, "broken=0")
    cmp.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The gates, the library call, the terminal view and the gates' exit code."""
    from sftdebug.cliargs import GateKind, check_gates, parse_fail_above
    from sftdebug.compare.api import CompareConfig
    from sftdebug.compare.api import run as compare
    from sftdebug.compare.paired import GATE_METRICS
    from sftdebug.compare.report import print_result
    from sftdebug.report import terminal as console

    counts: dict[str, GateKind] = dict.fromkeys(GATE_METRICS, "count")
    gates = parse_fail_above(args.fail_above, counts)
    result = compare(CompareConfig(run_a=args.run_a, run_b=args.run_b, out=args.out))
    print_result(result.summary)
    console.note(f"page: {result.page} · data: {result.data}")
    return check_gates(gates, result.summary)
