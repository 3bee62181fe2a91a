"""`sftdebug merge` as one typed call: N shard run folders (`--shard I/N`) checked to belong together and written
as the one run folder an unsharded run makes.

    from sftdebug.merge import MergeConfig, run
    result = run(MergeConfig(runs=["runs/s0", "runs/s1", "runs/s2", "runs/s3"], out="runs/all"))

Shards belong together when they are runs of one command with the same models and settings (only where the run
was written and how it was started may differ), shards 0..N-1 of one N over the same items, each finished, no item
in two. Anything else is one UsageError naming the folder and what differs, before anything is written; the merged
folder is made beside --out and moved into place whole (never half-written).
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sftdebug.core.errors import UsageError
from sftdebug.core.io import write_json_atomic
from sftdebug.core.runs import CONFIG, RECORDS, RunFolder, RunResult, read_config, read_records, read_summary
from sftdebug.core.shards import ShardRun

# config.json arguments that say where and how a shard ran, not what it measured: free to differ between shards
PER_SHARD = frozenset({"out", "resume", "overwrite", "shard", "csv", "write_filtered", "write_relabelled",
                       "endpoint", "base_endpoint", "sft_endpoint", "concurrency", "timeout", "retry_rounds",
                       "device", "batch_size", "threads"})  # fmt: skip


@dataclass(frozen=True)
class MergeConfig:
    runs: Sequence[str]  # the shards' run folders, all N of them, in any order
    out: str  # the merged run folder
    overwrite: bool = False  # replace an existing run in `out`


def run(cfg: MergeConfig) -> RunResult:
    """Check the shards, write the merged run folder (records, journals, summary, report); return it."""
    from sftdebug.report.build import build_report

    shards = [_load(Path(p)) for p in cfg.runs]
    module = _check_together(shards)
    out = Path(cfg.out)
    if any(out.resolve() == s.path.resolve() for s in shards):
        raise UsageError(f"--out {out}: is one of the shards being merged; give another folder")
    if (out / RECORDS).exists() and not cfg.overwrite:
        raise UsageError(f"--out {out}: already holds a run; pass --overwrite to replace it")
    RunFolder.precheck(out, False, True)  # a file, or a folder not writable
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.merging-", dir=out.parent))
    try:
        kind = shards[0].config["kind"]
        args = {k: v for k, v in shards[0].args.items() if k != "shard"} | {"out": str(out)}
        with RunFolder.open(tmp, kind, args) as folder:
            module.merge_shards(shards, folder)
        config = read_config(tmp)  # what the models were, and which sftdebug ran them: the shards' own
        config |= {k: shards[0].config[k] for k in ("gguf_conversions", "adapters") if k in shards[0].config}
        config["merged_from"] = [
            {"run": str(s.path), "shard": _name(s), "versions": s.config.get("versions")} for s in shards
        ]
        write_json_atomic(tmp / CONFIG, config)
        _move_into(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return RunResult(out, read_summary(out), build_report([out]))


def _load(path: Path) -> ShardRun:
    config = read_config(path)
    if not isinstance(config.get("args", {}).get("shard"), dict):
        raise UsageError(f"{path}: not a shard (its run was made without --shard)")
    return ShardRun(path, config, read_summary(path), read_records(path))


def _name(s: ShardRun) -> str:
    return f"{s.shard['index']}/{s.shard['count']}"


def _check_together(shards: Sequence[ShardRun]) -> Any:
    """The kind's shards module, once the shards are known to make one run (see the module docstring)."""
    from sftdebug.diagnostics import KINDS

    first = shards[0]
    kind = first.config.get("kind")
    if kind not in KINDS or not KINDS[kind].shards:
        raise UsageError(f"{first.path}: {kind!r} runs are not sharded (only hallucination, risk and generate are)")
    module = importlib.import_module(KINDS[kind].shards)
    by_index: dict[int, ShardRun] = {}
    for s in shards:
        _same_run(first, s)
        i = s.shard["index"]
        if i in by_index:
            raise UsageError(f"{s.path} and {by_index[i].path} are both shard {_name(s)}")
        by_index[i] = s
        _complete(s, module.ITEM)
    count = first.shard["count"]
    missing = [f"{i}/{count}" for i in range(count) if i not in by_index]
    if missing:
        raise UsageError(
            f"shard {', '.join(missing)} missing: given {', '.join(f'{s.path} ({_name(s)})' for s in shards)}"
        )
    owner: dict[str, Path] = {}
    for s in shards:
        for item in {str(r[module.ITEM]) for r in s.records}:
            if item in owner:
                raise UsageError(f"{s.path} and {owner[item]} both hold {item!r}: the shards overlap")
            owner[item] = s.path
    return module


def _same_run(first: ShardRun, s: ShardRun) -> None:
    """`s` is a shard of the run `first` is one of: same kind, same settings, same N, same items."""
    if s.config.get("kind") != first.config.get("kind"):
        raise UsageError(
            f"{s.path}: a {s.config.get('kind')!r} run, but {first.path} is a {first.config.get('kind')!r} run"
        )
    a, b = first.args, s.args
    for name in sorted((set(a) | set(b)) - PER_SHARD):
        if a.get(name) != b.get(name):
            raise UsageError(
                f"{s.path}: --{name.replace('_', '-')} is {b.get(name)!r}, but {a.get(name)!r} in {first.path}: "
                "not shards of one run"
            )
    if s.shard["count"] != first.shard["count"]:
        raise UsageError(f"{s.path}: shard {_name(s)}, but {first.path} is shard {_name(first)}: not one split")
    if s.shard["items_sha1"] != first.shard["items_sha1"]:
        raise UsageError(
            f"{s.path}: split {s.shard['items']} items, not the {first.shard['items']} of {first.path} "
            "(other probes, prompts or data)"
        )


def _complete(s: ShardRun, item: str) -> None:
    done = len({r[item] for r in s.records})
    if s.summary.get("n_failed") or done != s.shard["shard_items"]:
        raise UsageError(
            f"{s.path}: shard {_name(s)} is not complete ({done} of {s.shard['shard_items']} items recorded): "
            "finish it with --resume"
        )


def _move_into(tmp: Path, out: Path) -> None:
    """The finished folder `tmp` as `out`: renamed whole when `out` is new or empty, else file by file over the
    run it held (--overwrite, checked before), config.json last (a folder with one holds a whole run)."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
        return
    for stale in [*out.glob("*.jsonl"), out / CONFIG, out / "summary.json", out / "report.html"]:
        stale.unlink(missing_ok=True)
    for f in sorted(tmp.iterdir(), key=lambda f: f.name == CONFIG):
        os.replace(f, out / f.name)
