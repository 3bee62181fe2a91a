"""README figures from the files commands write: rewrite them (`make readme`) or check them (tests/test_readme.py).

A figure in README.md is marked where it stands, so its source is one look away:

    narrow rate <!--f demo:runs/hallucination-sft-healthy/narrow_hallucination_rate pct-->2.6%<!--/f-->

`SOURCE:PATH FORMAT` — SOURCE names a file in SOURCES. For a JSON file PATH walks into it (dict keys and list
indexes, `/`-separated) and FORMAT renders the value (FORMATS). A markdown file is quoted, not rewritten: the figure
must appear there verbatim (in its `<!-- PATH -->` section when PATH is given: `bench:bench_lmeval` is a figure
of the lm-eval race in benchmarks/results.md).

    .venv/bin/python benchmarks/readme_figures.py          # rewrite README.md from the files
    .venv/bin/python benchmarks/readme_figures.py --check  # exit 1 and list what differs
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# source -> (file, the command that writes it)
SOURCES = {
    "demo": ("docs/figures/demo.json", "sftdebug demo --figures docs/figures/demo.json (make figures)"),
    "demo-full": ("docs/figures/demo-full.json", "sftdebug demo --full --figures docs/figures/demo-full.json"),
    "bench": ("benchmarks/results.md", "make bench"),
    "judge": ("benchmarks/judge.md", "benchmarks/judge_accuracy.py"),
}
MARK = re.compile(r"<!--f (?P<key>\S+?)(?: (?P<fmt>[\w-]+))?-->(?P<value>.*?)<!--/f-->", re.S)


def _pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%"


FORMATS: dict[str, Callable[[Any], str]] = {
    "pct": _pct,  # 0.026 -> 2.6%
    "pct0": lambda x: _pct(x, 0),
    "ci": lambda v: f"[{100 * v[0]:.1f}, {100 * v[1]:.1f}]",  # a share's interval, in percent
    "pcts": lambda v: " → ".join(_pct(x) for x in v),  # a series of shares
    "int": lambda x: f"{int(x):,}",
    "f1": lambda x: f"{x:.1f}",
    "f2": lambda x: f"{x:.2f}",
    "f3": lambda x: f"{x:.3f}",
    "ms": lambda x: f"{1000 * x:.2f} ms",  # seconds -> ms
    "ms1": lambda x: f"{1000 * x:.1f} ms",
    "msci": lambda v: f"[{1000 * v[0]:.2f}, {1000 * v[1]:.2f}]",  # an interval of seconds, in ms
    "msci1": lambda v: f"[{1000 * v[0]:.1f}, {1000 * v[1]:.1f}]",
    "s": lambda x: f"{x:.0f} s",
    "s1": lambda x: f"{x:.1f} s",
    "x": lambda x: f"{x:.1f}×",
    "str": str,
    "list": lambda v: " / ".join(str(x) for x in v),  # a series of labels or counts
}


class FigureError(Exception):
    """A marked figure whose source, path or format cannot be resolved."""


def lookup(data: Any, path: str) -> Any:
    """The value at a `/`-separated path; a `*` step maps the rest of the path over a list (a series)."""
    head, _, rest = path.partition("/")
    if head == "*" and isinstance(data, list):
        return [lookup(item, rest) for item in data]
    try:
        data = data[int(head)] if isinstance(data, list) else data[head]
    except (KeyError, IndexError, ValueError, TypeError):
        raise FigureError(f"no {head!r} in {path!r}") from None
    return lookup(data, rest) if rest else data


def _load(path: Path) -> Any:
    """A JSON source's data; a markdown source's text by section (`<!-- name -->` marks; "" is the whole file)."""
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return {"": text} | {part.partition(" -->")[0]: part for part in text.split("<!-- ")[1:]}


def render(text: str, root: Path = ROOT) -> tuple[str, list[str]]:
    """README text with every JSON-sourced figure rendered from its file, and the problems found (a quoted figure
    not in its markdown source, a missing file, an unknown source, path or format)."""
    loaded: dict[str, Any] = {}
    problems: list[str] = []

    def one(m: re.Match[str]) -> str:
        key, fmt, value = m["key"], m["fmt"] or "str", m["value"]
        source, _, path = key.partition(":")
        line = text.count("\n", 0, m.start()) + 1
        if source not in SOURCES or fmt not in FORMATS:
            problems.append(f"README.md:{line}: unknown source {source!r} or format {fmt!r}")
            return m[0]
        file, command = SOURCES[source]
        if source not in loaded:
            loaded[source] = _load(root / file)
        if loaded[source] is None:
            missing = f"{file} is missing (written by `{command}`)"
            if not any(p.endswith(missing) for p in problems):
                problems.append(f"README.md:{line}: {missing}")
            return m[0]
        if file.endswith(".md"):
            if value not in loaded[source].get(path, ""):
                problems.append(f"README.md:{line}: {value!r} is not in {file} {path}".rstrip())
            return m[0]
        try:
            new = FORMATS[fmt](lookup(loaded[source], path))
        except (FigureError, TypeError, ValueError, IndexError) as exc:
            problems.append(f"README.md:{line}: {key}: {exc}")
            return m[0]
        return m[0].replace(f"-->{value}<!--/f-->", f"-->{new}<!--/f-->")

    return MARK.sub(one, text), problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when README.md differs")
    args = parser.parse_args()
    text = README.read_text(encoding="utf-8")
    new, problems = render(text)
    for p in problems:
        print(p, file=sys.stderr)
    if args.check:
        stale = [(a, b) for a, b in zip(text.splitlines(), new.splitlines(), strict=True) if a != b]
        for old, fresh in stale:
            print(f"stale: {old.strip()[:100]}\n   now: {fresh.strip()[:100]}", file=sys.stderr)
        return 1 if stale or problems else 0
    if new != text:
        README.write_text(new, encoding="utf-8")
    print(f"README.md: {len(MARK.findall(text))} figures, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
