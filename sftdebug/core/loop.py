"""The one resumable loop every command runs its items through: skip what the journal already holds, do the
rest in parts, append each part's records (flushed to disk), report progress, then retry what failed.

Saving: a part holds at most `chunk` items *and* about `flush_s` seconds of work (the time per item is measured
as the loop goes, so a slow model writes every few seconds and a fast one in whole chunks); a kill loses at most
the part in flight. Retrying: items recorded as failed (an endpoint that kept failing) are worked on again in
up to `journal.retry.rounds` rounds, with a growing pause between rounds, before the run gives up on them and
`--resume` is left to retry them.

    run_resumable(probes, key=lambda p: p.id, work=generate_chunk, journal=run, chunk=64,
                  progress=bar, task="base (cloze)")
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sftdebug.core.progress import Progress, no_progress

T = TypeVar("T")
Key = str | Sequence[str]  # an item may own several records (e.g. one per sample): done when all are
log = logging.getLogger(__name__)
FLUSH_S = 5.0  # seconds of work at most between two appends (what a kill of a slow model loses)
MIN_PART = 8  # items per part at least (an endpoint's default concurrency: smaller parts would idle it)


@dataclass(frozen=True)
class RetryPolicy:
    """How often a run retries its failed items itself (`--retry-rounds`), pausing `backoff_s`, doubled each
    round up to `max_backoff_s`, so that an overloaded server gets time to recover."""

    rounds: int = 3
    backoff_s: float = 2.0
    max_backoff_s: float = 30.0

    def pause(self, round_no: int) -> float:
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** (round_no - 1)))


NO_RETRY = RetryPolicy(rounds=0)


class Done(Protocol):
    def is_done(self, key: str) -> bool: ...


class Appendable(Done, Protocol):
    retry: RetryPolicy

    def append(self, records: Iterable[dict[str, Any]]) -> None: ...


def _done(journal: Done, key: Key) -> bool:
    keys = [key] if isinstance(key, str) else key
    return all(journal.is_done(k) for k in keys)


def pending(items: Sequence[T], key: Callable[[T], Key], journal: Done) -> list[T]:
    """The items whose records are not all in the journal yet (failed records count as not done)."""
    return [it for it in items if not _done(journal, key(it))]


def next_part_size(seconds_per_item: float, chunk: int, flush_s: float, min_part: int) -> int:
    """Items in the next part: as many as fit in `flush_s` seconds, within [min_part, chunk]."""
    fit = int(flush_s / seconds_per_item) if seconds_per_item > 0 else chunk
    return max(1, min(chunk, max(min_part, fit)))


def _run_parts(
    todo: Sequence[T],
    work: Callable[[Sequence[T]], Iterable[dict[str, Any]]],
    journal: Appendable,
    sizes: tuple[int, float, int],
    on_part: Callable[[int], None],
) -> None:
    """`work` over `todo` in parts sized by `next_part_size`, each part's records appended before the next."""
    chunk, flush_s, min_part = sizes
    start, size = 0, max(1, min(chunk, min_part))  # a small first part measures the time per item
    while start < len(todo):
        part = todo[start : start + size]
        t0 = time.monotonic()
        journal.append(work(part))
        start += len(part)
        on_part(len(part))
        size = next_part_size((time.monotonic() - t0) / len(part), chunk, flush_s, min_part)


def run_resumable(
    items: Sequence[T],
    key: Callable[[T], Key],
    work: Callable[[Sequence[T]], Iterable[dict[str, Any]]],
    journal: Appendable,
    chunk: int,
    progress: Progress = no_progress,
    task: str = "",
    flush_s: float = FLUSH_S,
    min_part: int = MIN_PART,
) -> int:
    """Run `work` over every pending item (see the module docstring for parts and retry rounds), appending its
    records to `journal`. Returns how many items were worked on in the first pass (0: all recorded before)."""
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    todo = pending(items, key, journal)
    done = len(items) - len(todo)
    progress(task, done, len(items), "")

    label = task

    def advance(n: int) -> None:
        nonlocal done
        done += n
        progress(label, done, len(items), "")

    _run_parts(todo, work, journal, (chunk, flush_s, min_part), advance)
    policy = journal.retry
    for round_no in range(1, policy.rounds + 1):
        failed = pending(todo, key, journal)
        if not failed:
            break
        log.debug("%s: %d failed; retry round %d in %.0f s", task, len(failed), round_no, policy.pause(round_no))
        time.sleep(policy.pause(round_no))
        done -= len(failed)
        label = f"{task} (retry {round_no}/{policy.rounds})"
        progress(label, done, len(items), "")
        _run_parts(failed, work, journal, (chunk, flush_s, min_part), advance)
    return len(todo)
