"""The one resumable loop every command runs its items through: skip what the journal already holds, do the
rest in chunks, append each chunk's records (flushed to disk) and report progress.

A chunk is the most a kill can lose; a resumed run (`--resume`) recomputes only the items not yet recorded.

    run_resumable(probes, key=lambda p: p.id, work=generate_chunk, journal=run, chunk=64,
                  progress=bar, task="base (cloze)")
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from sftdebug.core.progress import Progress, no_progress

T = TypeVar("T")
Key = str | Sequence[str]  # an item may own several records (e.g. one per sample): done when all are


class Done(Protocol):
    def is_done(self, key: str) -> bool: ...


class Appendable(Done, Protocol):
    def append(self, records: Iterable[dict[str, Any]]) -> None: ...


def _done(journal: Done, key: Key) -> bool:
    keys = [key] if isinstance(key, str) else key
    return all(journal.is_done(k) for k in keys)


def pending(items: Sequence[T], key: Callable[[T], Key], journal: Done) -> list[T]:
    """The items whose records are not all in the journal yet (failed records count as not done)."""
    return [it for it in items if not _done(journal, key(it))]


def run_resumable(
    items: Sequence[T],
    key: Callable[[T], Key],
    work: Callable[[Sequence[T]], Iterable[dict[str, Any]]],
    journal: Appendable,
    chunk: int,
    progress: Progress = no_progress,
    task: str = "",
) -> int:
    """Run `work` over every pending item, `chunk` items at a time, appending its records to `journal`.
    Returns how many items were worked on (0: everything was already recorded)."""
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    todo = pending(items, key, journal)
    done = len(items) - len(todo)
    progress(task, done, len(items), "")
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        journal.append(work(part))
        done += len(part)
        progress(task, done, len(items), "")
    return len(todo)
