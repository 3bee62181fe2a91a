"""Progress callbacks: library code reports `(task, done, total, info)` and never prints; the CLI turns the
calls into rich progress bars (`sftdebug.report.terminal.progress_bars`).

    def work(progress: Progress = no_progress) -> None:
        progress("base (cloze)", 10, 100, "")
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int, str], None]


def no_progress(task: str, done: int, total: int, info: str = "") -> None:
    """The default callback: report nothing."""
