"""`sftdebug compare RUN_A RUN_B`: two hallucination runs over the same probes, paired fact by fact."""

from __future__ import annotations

import argparse
from typing import Any

from sftdebug.core.cliargs import add_fail_above


def register(sub: Any) -> None:
    cmp = sub.add_parser("compare", help="two hallucination runs side by side: facts fixed and broken, McNemar")
    cmp.add_argument("run_a", help="the earlier / reference hallucination run folder")
    cmp.add_argument("run_b", help="the run compared against it")
    cmp.add_argument("--out", default=None, help="HTML page (default: RUN_B/compare.html); its data beside it (.json)")
    add_fail_above(cmp, "broken=0")
    cmp.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sftdebug.compare.paired import GATE_METRICS, compare_runs
    from sftdebug.compare.report import print_result, render_page
    from sftdebug.core.cliargs import GateKind, check_gates, parse_fail_above
    from sftdebug.core.errors import UsageError
    from sftdebug.core.io import write_json_atomic, write_text_atomic
    from sftdebug.core.runs import read_config, read_records, read_summary
    from sftdebug.report import terminal as console

    counts: dict[str, GateKind] = dict.fromkeys(GATE_METRICS, "count")
    gates = parse_fail_above(args.fail_above, counts)
    runs = []
    for folder in (args.run_a, args.run_b):
        config = read_config(folder)
        if config.get("kind") != "hallucination":
            raise UsageError(f"{folder} is a {config.get('kind')} run, not a hallucination run")
        read_summary(folder)  # a finished run with a readable summary (not a list, not torn), or one line
        runs.append((config, read_records(folder)))
    out = Path(args.out) if args.out else Path(args.run_b) / "compare.html"
    if out.is_dir():
        raise UsageError(f"--out {out}: is a folder; give the HTML file's path")
    result = compare_runs(runs[0][1], runs[1][1])
    result["run_a"], result["run_b"] = (
        {"path": str(folder), "sft": config.get("args", {}).get("sft"), "base": config.get("args", {}).get("base")}
        for folder, (config, _) in zip((args.run_a, args.run_b), runs, strict=True)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out.with_suffix(".json"), result)
    write_text_atomic(out, render_page(result))
    print_result(result)
    console.note(f"page: {out} · data: {out.with_suffix('.json')}")
    return check_gates(gates, result)
