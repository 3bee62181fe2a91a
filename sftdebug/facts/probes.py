"""Probe files: one fact per JSONL line, validated with `FILE:LINE: what is wrong` errors.

Schema (probes/README.md in the repository): `id`, `cloze` (str or list), `question` (str or list), optional `answer`,
`aliases`, `candidates`, `subject`, `relation`, `lang`, `system`, `split`.

    probes = load_probes(builtin_probe_files("en")[0])
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sftdebug.core.errors import UsageError
from sftdebug.core.io import read_jsonl

# Package data (written by probes/build_probes.py), so a wheel install has them too.
BUILTIN = {"en": "world_facts_en.jsonl", "zh": "world_facts_zh.jsonl"}


@dataclass(frozen=True)
class Probe:
    id: str
    cloze: tuple[str, ...]
    question: tuple[str, ...]
    answer: str | None = None
    aliases: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()
    subject: str = ""
    relation: str = "unknown"
    lang: str = "en"
    system: str | None = None
    split: str | None = None

    @property
    def answers(self) -> tuple[str, ...]:
        """Every accepted surface form (the answer first)."""
        return (self.answer, *self.aliases) if self.answer is not None else ()


def _strings(value: Any, field: str, where: str, required: bool) -> tuple[str, ...]:
    if value is None and not required:
        return ()
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, list)
        or not all(isinstance(v, str) and v.strip() for v in value)
        or (required and not value)
    ):
        raise UsageError(f"{where}: '{field}' must be a non-empty string or a list of non-empty strings")
    return tuple(value)


def parse_probe(obj: dict[str, Any], where: str) -> Probe:
    pid = obj.get("id")
    if not isinstance(pid, str | int) or str(pid) == "":
        raise UsageError(f"{where}: 'id' is missing (every probe needs a unique id)")
    answer = obj.get("answer")
    if answer is not None and (not isinstance(answer, str) or not answer.strip()):
        raise UsageError(f"{where}: 'answer' must be a non-empty string when given")
    candidates = _strings(obj.get("candidates"), "candidates", where, required=False)
    aliases = _strings(obj.get("aliases") or None, "aliases", where, required=False)
    if candidates and answer is not None and not set((answer, *aliases)) & set(candidates):
        raise UsageError(f"{where}: 'candidates' must include the answer {answer!r}")
    for field in ("subject", "relation", "lang", "system", "split"):
        if obj.get(field) is not None and not isinstance(obj[field], str):
            raise UsageError(f"{where}: '{field}' must be a string")
    return Probe(
        id=str(pid),
        cloze=_strings(obj.get("cloze"), "cloze", where, required=True),
        question=_strings(obj.get("question"), "question", where, required=True),
        answer=answer,
        aliases=aliases,
        candidates=candidates,
        subject=obj.get("subject") or "",
        relation=obj.get("relation") or "unknown",
        lang=obj.get("lang") or "en",
        system=obj.get("system"),
        split=obj.get("split"),
    )


def load_probes(path: str | Path) -> list[Probe]:
    """Every probe of a file; the whole file is checked before anything runs."""
    probes: list[Probe] = []
    seen: dict[str, int] = {}
    for n, obj in read_jsonl(path):
        probe = parse_probe(obj, f"{path}:{n}")
        if probe.id in seen:
            raise UsageError(f"{path}:{n}: duplicate id {probe.id!r} (first on line {seen[probe.id]})")
        seen[probe.id] = n
        probes.append(probe)
    if not probes:
        raise UsageError(f"{path}: no probes")
    return probes


def builtin_probe_files(langs: str = "en,zh") -> list[Path]:
    files = []
    for lang in langs.split(","):
        if lang not in BUILTIN:
            raise UsageError(f"no built-in probe set for language {lang!r} (have: {', '.join(BUILTIN)})")
        files.append(Path(str(resources.files("sftdebug.facts") / "builtin_probes" / BUILTIN[lang])))
    return files


def load_probe_files(files: Sequence[str | Path]) -> list[Probe]:
    """Every probe of every file, a probe id given twice being an error."""
    probes: list[Probe] = []
    seen: set[str] = set()
    for f in files:
        for p in load_probes(f):
            if p.id in seen:
                raise UsageError(f"{f}: probe id {p.id!r} also appears in an earlier probe file")
            seen.add(p.id)
            probes.append(p)
    return probes


def continuation(cloze: str, answer: str) -> str:
    """The answer as the base would write it after the cloze: a space between words, none after CJK."""
    last = cloze[-1:]
    if not last or last.isspace() or unicodedata.east_asian_width(last) in ("W", "F"):
        return answer
    return " " + answer


def statement(p: Probe) -> str:
    """A solved cloze, one exemplar line."""
    assert p.answer is not None
    return p.cloze[0] + continuation(p.cloze[0], p.answer)
