"""File I/O every command shares: one JSON-lines reader, and atomic writers (a reader sees the old file or
the new one, never half of one). User-file errors name the file and line (`probes.jsonl:12: ...`).

    for n, obj in read_jsonl("probes.jsonl"): ...
    write_json_atomic(Path("summary.json"), {...})
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sftdebug.core.errors import UsageError


class BadLine(ValueError):
    """A line that is not valid JSON; its message reads `not valid JSON (<reason> at column N)`."""


def json_lines(text: str) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line of JSONL text; a bad line yields a `BadLine` as its value,
    so that each caller decides whether it stops the file (probes) or is counted (SFT data rows)."""
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as exc:
            yield n, BadLine(f"not valid JSON ({exc.msg} at column {exc.colno})")
        except RecursionError:
            yield n, BadLine("JSON nested too deeply to read")


def read_text(path: str | Path) -> str:
    """A user's text file; a missing file, a folder or bytes that are not UTF-8 are one-line UsageErrors."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{p}: no such file")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = p.read_bytes()[: exc.start].count(b"\n") + 1
        raise UsageError(
            f"{p}:{line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); save the file as UTF-8"
        ) from None


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; any bad line is a UsageError naming it."""
    for n, obj in json_lines(read_text(path)):
        if isinstance(obj, BadLine):
            raise UsageError(f"{path}:{n}: {obj}")
        if not isinstance(obj, dict):
            raise UsageError(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}")
        yield n, obj


def write_text_atomic(path: Path, text: str) -> None:
    """Write a whole text file through a temporary file renamed into place."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


@contextmanager
def made_once(done: Path) -> Iterator[bool]:
    """Around making a cache entry whose `done` file marks it complete: yields whether it still has to be made,
    holding a lock beside it meanwhile, so two processes (two runs, two test workers) never build the same entry
    into one temporary folder at once; the second waits and then finds it made."""
    import fcntl

    done.parent.parent.mkdir(parents=True, exist_ok=True)
    with open(done.parent.with_name(done.parent.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield not done.is_file()
