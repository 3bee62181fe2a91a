"""Terminal output (rich): progress bars, tables, one-line errors. The only place that prints.

Library code reports progress through plain callbacks `(task, done, total, info)`; `progress_bars()` turns
them into rich bars on stderr, so stdout stays clean for tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

out = Console()
err = Console(stderr=True)

ProgressFn = Callable[[str, int, int, str], None]


@contextmanager
def progress_bars() -> Iterator[ProgressFn]:
    bars = Progress(
        TextColumn("[bold]{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )
    tasks: dict[str, Any] = {}

    def update(task: str, done: int, total: int, info: str = "") -> None:
        if task not in tasks:
            tasks[task] = bars.add_task(task, total=total, info=info)
        bars.update(tasks[task], completed=done, total=total, info=info)

    with bars:
        yield update


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*[_cell(v) for v in r])
    out.print(t)


def kv(title: str, data: Mapping[str, Any]) -> None:
    table(title, ["", ""], [[k, v] for k, v in data.items()])


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return "" if v is None else str(v)


def error(message: str) -> None:
    err.print(f"[bold red]sftdebug: error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    err.print(f"[bold yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


def note(message: str) -> None:
    err.print(escape(message), highlight=False, soft_wrap=True)
