"""`sftdebug risk --shard I/N`, merged: N shard run folders into the run an unsharded run writes (`sftdebug merge`).

A shard labels its own rows, but the few-shot exemplar pool, and the screen that picks it, are made from every row
as in the unsharded run (each shard makes the same pool), so a row's label does not depend on the shard it fell
in. The merge orders the rows as the file does and summarises them with the calibration curve the shards used.

    sftdebug risk --base B --data sft.jsonl --shard 0/4 --out runs/r0   # ... 1/4, 2/4, 3/4
    sftdebug merge runs/r0 runs/r1 runs/r2 runs/r3 --out runs/r
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sftdebug.core.errors import UsageError
from sftdebug.core.runs import RunFolder
from sftdebug.core.shards import ShardRun
from sftdebug.risk.api import calibration_curve
from sftdebug.risk.summary import summarize

ITEM = "key"  # the record field naming the row a record is about (what shards split)


def merge_shards(shards: Sequence[ShardRun], run: RunFolder) -> dict[str, Any]:
    """The shards' records into `run` (open, empty), in row order; its summary. Returns the summary."""
    first = shards[0]
    for s in shards[1:]:  # made from the whole file in every shard: the same unless the shards were not run alike
        for field in ("exemplars", "n_bad_rows"):
            if s.summary.get(field) != first.summary.get(field):
                raise UsageError(f"{s.path}: its {field} differ from {first.path}'s: the shards were not run alike")
    run.append(sorted((r for s in shards for r in s.records), key=lambda r: int(r["row"])))
    records = run.records()
    args = first.args
    summary = summarize(records, calibration_curve(args["base"], args.get("calibration")))
    summary["n_bad_rows"] = first.summary["n_bad_rows"]
    summary["n_retried"] = sum(s.summary.get("n_retried", 0) for s in shards)
    summary["n_probes_matched"] = sum(1 for r in records for t in r["turns"] if t.get("probe_id"))
    summary["warnings"] = list(dict.fromkeys(w for s in shards for w in s.summary.get("warnings", [])))
    if "exemplars" in first.summary:
        summary["exemplars"] = first.summary["exemplars"]
    run.write_summary(summary)
    return summary
