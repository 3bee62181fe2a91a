"""Terminal output (rich): progress bars, tables, one-line errors. The only place that prints.

Library code reports progress through plain callbacks (`core.progress.Progress`); `progress_bars()` turns them
into rich bars on stderr, so stdout stays clean for tables.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as Bars
from rich.table import Table
from rich.text import Text

from sftdebug.core.progress import Progress
from sftdebug.report.html import REPLICA_COLUMNS, replica_rows, visible

out = Console()
err = Console(stderr=True)


@contextmanager
def progress_bars() -> Iterator[Progress]:
    bars = Bars(
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


def replicas(summary: Mapping[str, Any]) -> None:
    """The run's endpoints, when it used several replicas of a model: requests, failures, mean latency each."""
    if rows := replica_rows(summary):
        table("endpoints (replicas)", REPLICA_COLUMNS, rows)


def kv(title: str, data: Mapping[str, Any]) -> None:
    table(title, ["", ""], [[k, v] for k, v in data.items()])


def _cell(v: Any) -> Text | str:
    """Cells are plain text (data and model outputs may hold `[...]`, which rich would read as markup)."""
    if isinstance(v, Text):
        return v
    if isinstance(v, float):
        return f"{v:.3f}"
    return "" if v is None else escape(str(v))


STATUS_STYLE = {"fail": "bold red", "warn": "bold yellow", "pass": "green", "skip": "dim"}
ROLE_STYLE = {"system": "on grey23", "user": "on dark_blue", "tool": "on dark_goldenrod", "template": "on grey30"}


def status(value: str) -> Text:
    return Text(value, style=STATUS_STYLE.get(value, ""))


def tokens(title: str, view: Sequence[Mapping[str, Any]]) -> None:
    """A row's tokens, alternately underlined so boundaries show; prompt roles on coloured backgrounds,
    trained tokens green, eos red; spaces as ·, newlines as ↵. Without colours (output to a file or a CI log)
    each run of tokens with one role and mask gets its own labelled line, tokens separated by ¦."""
    out.print(Text(title, style="bold"))
    if out.no_color or not out.is_terminal:
        _plain_tokens(view)
        return
    text = Text()
    for i, t in enumerate(view):
        piece = visible(t["text"])
        if t["eos"] and t["trained"]:
            style = "bold white on red"
        elif t["trained"]:
            style = "black on green"
        else:
            style = ROLE_STYLE.get(t["role"], "dim")
        text.append(piece, style=style + (" underline" if i % 2 else ""))
    out.print(text)
    out.print(
        Text.assemble(
            ("legend: ", "dim"),
            ("user", ROLE_STYLE["user"]),
            " ",
            ("system", ROLE_STYLE["system"]),
            " ",
            ("tool", ROLE_STYLE["tool"]),
            " ",
            ("generation prompt", ROLE_STYLE["template"]),
            " ",
            ("masked answer", "dim"),
            " ",
            ("trained", "black on green"),
            " ",
            ("eos", "bold white on red"),
        )
    )


def error(message: str) -> None:
    err.print(f"[bold red]sftdebug: error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    err.print(f"[bold yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


def note(message: str) -> None:
    err.print(escape(message), highlight=False, soft_wrap=True)


def _plain_tokens(view: Sequence[Mapping[str, Any]]) -> None:
    runs: list[tuple[str, list[str]]] = []
    for t in view:
        label = f"{t['role']}, {'trained' if t['trained'] else 'masked'}"
        if not runs or runs[-1][0] != label:
            runs.append((label, []))
        runs[-1][1].append(visible(t["text"]).replace("\n", "") + ("(eos)" if t["eos"] else ""))
    for label, pieces in runs:
        out.print(f"  [{label:>19}] " + "¦".join(pieces), markup=False, highlight=False, soft_wrap=True)
