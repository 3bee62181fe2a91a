"""`sftdebug generate --shard I/N`, merged: N shard run folders into the run an unsharded run writes (`sftdebug
merge`). Every prompt is generated on its own, so the merge is the shards' records in the prompt file's order and
the summary made from them.

    sftdebug generate --model M --prompts prompts.jsonl --shard 0/4 --out runs/g0   # ... 1/4, 2/4, 3/4
    sftdebug merge runs/g0 runs/g1 runs/g2 runs/g3 --out runs/g
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sftdebug.core.errors import UsageError
from sftdebug.core.runs import RunFolder
from sftdebug.core.shards import ShardRun, fingerprint
from sftdebug.generate.prompts import read_prompts, summarize

ITEM = "id"  # the record field naming the prompt a record is about (what shards split)


def merge_shards(shards: Sequence[ShardRun], run: RunFolder) -> dict[str, Any]:
    """The shards' records into `run` (open, empty), in prompt order; its summary. Returns the summary."""
    args = shards[0].args
    ids = [it.id for it in read_prompts(args["prompts"])] if args.get("prompts") else ["0"]
    if fingerprint(ids) != shards[0].shard["items_sha1"]:
        raise UsageError(f"{args['prompts']}: the prompts changed since {shards[0].path} ran: rerun the shards")
    order = {pid: i for i, pid in enumerate(ids)}
    records = sorted((r for s in shards for r in s.records), key=lambda r: (order[r["id"]], r["sample"]))
    run.append(records)
    summary = summarize(run.records())
    summary["n_failed"] = 0
    summary["n_retried"] = sum(s.summary.get("n_retried", 0) for s in shards)
    run.write_summary(summary)
    return summary
