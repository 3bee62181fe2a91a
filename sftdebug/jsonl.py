"""Reading user JSONL files with errors that name the file and line (`probes.jsonl:12: ...`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sftdebug.errors import UsageError


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; any bad line is a UsageError naming it."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{p}: no such file")
    with p.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{p}:{n}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(obj, dict):
                raise UsageError(f"{p}:{n}: expected a JSON object, got {type(obj).__name__}")
            yield n, obj


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write a whole JSONL file atomically (a temporary file renamed into place)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)
