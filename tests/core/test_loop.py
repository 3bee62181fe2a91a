"""The one resumable loop: only pending items are worked on, in chunks, each chunk appended before the next;
progress counts what earlier runs recorded; an item with several keys is done only when all are."""

from __future__ import annotations

from pathlib import Path

import pytest

from sftdebug.core.loop import pending, run_resumable
from sftdebug.core.runs import RunFolder


def test_chunks_progress_and_resume(tmp_path: Path) -> None:
    seen: list[list[int]] = []
    ticks: list[tuple[str, int, int]] = []

    def work(part):
        seen.append(list(part))
        if 7 in part:
            raise KeyboardInterrupt  # a kill in the third chunk
        return [{"key": str(i), "v": i * i} for i in part]

    with RunFolder.open(tmp_path, "generate", {}) as run, pytest.raises(KeyboardInterrupt):
        run_resumable(list(range(10)), str, work, run, 3, lambda t, d, n, i: ticks.append((t, d, n)), "sq")
    assert seen == [[0, 1, 2], [3, 4, 5], [6, 7, 8]] and ticks == [("sq", 0, 10), ("sq", 3, 10), ("sq", 6, 10)]
    seen.clear()
    ticks.clear()
    with RunFolder.open(tmp_path, "generate", {}, resume=True) as run:
        assert pending(list(range(10)), str, run) == [6, 7, 8, 9]
        n = run_resumable(
            list(range(10)),
            str,
            lambda part: [{"key": str(i), "v": i * i} for i in part],
            run,
            3,
            lambda t, d, n, i: ticks.append((t, d, n)),
            "sq",
        )
        assert n == 4 and ticks[0] == ("sq", 6, 10) and ticks[-1] == ("sq", 10, 10)
        assert sorted(int(r["key"]) for r in run.records()) == list(range(10))


def test_item_with_several_keys_is_done_only_when_all_are(tmp_path: Path) -> None:
    with RunFolder.open(tmp_path, "generate", {}) as run:
        run.append([{"key": "a#0"}, {"key": "b#0"}, {"key": "b#1"}, {"key": "c#1", "status": "failed"}])
        keys = lambda it: [f"{it}#0", f"{it}#1"]  # noqa: E731
        assert pending(["a", "b", "c"], keys, run) == ["a", "c"]


def test_chunk_must_be_positive(tmp_path: Path) -> None:
    with RunFolder.open(tmp_path, "generate", {}) as run, pytest.raises(ValueError, match="chunk"):
        run_resumable([1], str, lambda part: [], run, 0)


def test_slow_items_are_saved_every_few_seconds_not_per_chunk(tmp_path: Path) -> None:
    """A part holds at most `flush_s` seconds of work: with 64-item chunks of slow items, records reach the file
    long before a chunk would be full (a kill used to lose up to 63 items)."""
    import time

    sizes: list[int] = []
    on_disk: list[int] = []

    def work(part):
        on_disk.append((tmp_path / "records.jsonl").read_text().count("\n"))
        sizes.append(len(part))
        time.sleep(0.05 * len(part))
        return [{"key": str(i)} for i in part]

    with RunFolder.open(tmp_path, "generate", {}) as run:
        run_resumable(list(range(20)), str, work, run, 64, flush_s=0.2, min_part=1)
    assert sum(sizes) == 20 and max(sizes) <= 5, sizes
    assert on_disk[1] >= 1 and on_disk == sorted(on_disk), "each part is on disk before the next starts"


@pytest.mark.parametrize(("per_item", "expected"), [(0.0, 64), (0.001, 64), (0.5, 10), (10.0, 8), (1.0, 8)])
def test_part_size_fits_the_flush_time_within_bounds(per_item: float, expected: int) -> None:
    from sftdebug.core.loop import next_part_size

    assert next_part_size(per_item, 64, 5.0, 8) == expected


def test_failed_items_get_retry_rounds_then_stay_failed(tmp_path: Path) -> None:
    from sftdebug.core.loop import RetryPolicy

    calls: list[list[int]] = []

    def work(part):
        calls.append(list(part))
        return [{"key": str(i), **({"status": "failed"} if i == 3 else {})} for i in part]

    with RunFolder.open(tmp_path, "generate", {}, retry=RetryPolicy(rounds=2, backoff_s=0.0)) as run:
        run_resumable(list(range(5)), str, work, run, 64)
        assert not run.is_done("3") and run.retried() == set()
    assert calls == [[0, 1, 2, 3, 4], [3], [3]]
