"""Shards for batch schedulers: `--shard I/N` runs the I-th of N parts of a command's items, and `sftdebug merge`
joins the N run folders into the one an unsharded run writes.

Items are ordered by a hash of their id and cut into N contiguous blocks: shards differ in size by at most one
item, each gets a fair mix of the items (not one language or relation), and the split depends only on the set of
ids, so a resumed shard takes the same items. config.json records the shard with a fingerprint of the whole id
list (`record`), which is what `merge` checks the shards against (same items, no gap, no overlap).

    shard = Shard.parse("1/4")            # a UsageError for 3/2, 0/0, -1/2, x/4
    mine = shard.select(probes, key=lambda p: p.id)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sftdebug.core.errors import UsageError
from sftdebug.core.io import write_text_atomic

T = TypeVar("T")


def _order(key: str) -> str:
    return hashlib.sha1(f"shard\0{key}".encode()).hexdigest()


def fingerprint(ids: Iterable[str]) -> str:
    """The sha1 of the item ids in their order: two shards with the same fingerprint split the same items."""
    return hashlib.sha1("\n".join(ids).encode()).hexdigest()


@dataclass(frozen=True)
class Shard:
    index: int  # 0-based
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        index, sep, count = str(text).partition("/")
        try:
            i, n = int(index), int(count)
        except ValueError:
            sep = ""
        if not sep or n < 1 or not 0 <= i < n:
            raise UsageError(f"--shard {text!r}: expected I/N with N >= 1 and 0 <= I < N, e.g. 0/4")
        return cls(i, n)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def keys(self, ids: Sequence[str]) -> set[str]:
        """The ids of this shard: its block of the ids in hash order."""
        ordered = sorted(ids, key=_order)
        n = len(ordered)
        return set(ordered[self.index * n // self.count : (self.index + 1) * n // self.count])

    def select(self, items: Sequence[T], key: Callable[[T], str]) -> list[T]:
        """This shard's items, in their given order."""
        mine = self.keys([key(it) for it in items])
        return [it for it in items if key(it) in mine]

    def record(self, ids: Sequence[str]) -> dict[str, Any]:
        """The shard as config.json's `args.shard` holds it: which part, of how many items, and their fingerprint."""
        return {
            "index": self.index,
            "count": self.count,
            "items": len(ids),
            "shard_items": len(self.keys(ids)),
            "items_sha1": fingerprint(ids),
        }


def parse_shard(text: str | None) -> Shard | None:
    return None if text is None else Shard.parse(text)


class ShardView:
    """A journal or run folder as one shard's loop sees it: items outside the shard count as done. A phase given
    every item (so that whatever is decided from the whole set, such as an exemplar pool or a screen sample, is
    the unsharded run's) then works on the shard's own items only; everything else is the wrapped object's."""

    def __init__(self, inner: Any, keys: set[str]) -> None:
        self._inner = inner
        self._keys = keys

    def is_done(self, key: str) -> bool:
        return key not in self._keys or bool(self._inner.is_done(key))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@dataclass(frozen=True)
class ShardRun:
    """One finished shard's run folder, as `sftdebug merge` reads it."""

    path: Path
    config: dict[str, Any]
    summary: dict[str, Any]
    records: list[dict[str, Any]]

    @property
    def shard(self) -> dict[str, Any]:
        """config.json's record of the shard (`Shard.record`)."""
        return dict(self.config["args"]["shard"])

    @property
    def args(self) -> dict[str, Any]:
        return dict(self.config["args"])


def merge_journal(shards: Sequence[ShardRun], name: str, out: Path) -> None:
    """`name` (e.g. "sft.jsonl") of every shard, line for line into `out/name` (failed lines kept: a merged
    journal says which items were retried, as the unsharded run's would). A key two shards both hold (a decision
    each shard made from the whole item set, such as how the base is asked) is written once, and must be the same
    in both: if not, the shards were not run alike and cannot make one run."""
    seen: dict[str, tuple[Path, Any]] = {}
    lines: list[str] = []
    for s in shards:
        path = s.path / name
        mine: set[str] = set()
        for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
            if not line.strip():
                continue
            rec = json.loads(line)
            key = str(rec.get("key"))
            if key in seen and key not in mine:
                if seen[key][1] != rec:
                    raise UsageError(f"{path}: {key!r} differs from {seen[key][0]}'s: the shards were not run alike")
                continue
            seen.setdefault(key, (path, rec))
            mine.add(key)
            lines.append(line + "\n")
    write_text_atomic(out / name, "".join(lines))
