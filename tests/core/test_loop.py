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
