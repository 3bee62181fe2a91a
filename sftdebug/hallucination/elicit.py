"""Eliciting what a base model knows: its cloze asked bare (zero-shot) or after a few solved exemplars.

A real pretrained model rambles past a bare cloze ("The capital of Canada is" -> " a city that is full of
history…") although it ranks Ottawa first; a few solved clozes of the same relation first ("The capital of
France is Paris\\nThe capital of Peru is Lima\\nThe capital of Canada is") make it answer. Following Gekhman et
al. (2024), a fact the base misses with one exemplar set is asked again with another, and counts as known when
either answers it. The exemplars are other probes of the same relation and language — never the probe itself, its
subject or its answer — preferring facts the base completes correctly by itself.

`auto` decides per run on a seeded sample of probes (`screen`): few-shot when it makes the base answer more of
them than zero-shot does. The lab's organisms were trained on the bare clozes, so there zero-shot wins; on real
bases few-shot does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from sftdebug.facts.match import normalize
from sftdebug.facts.probes import Probe, statement

MODES = ("auto", "few-shot", "zero-shot")
SCREEN_SIZE = 64  # probes `auto` asks both ways; ties keep zero-shot (cheaper, and what the lab was trained on)


def _order(salt: str, key: str) -> str:
    return hashlib.sha1(f"{salt}\0{key}".encode()).hexdigest()


@dataclass(frozen=True)
class Elicitation:
    """How the base phase asks each probe. `known`: probe ids the base completed zero-shot (preferred exemplars)."""

    probes: Sequence[Probe]
    shots: int = 3
    known: frozenset[str] = frozenset()
    _pools: dict[tuple[str, str], list[Probe]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for p in self.probes:
            if p.answer is not None and p.cloze:
                self._pools.setdefault((p.relation, p.lang), []).append(p)
                self._pools.setdefault(("*", p.lang), []).append(p)

    def exemplars(self, p: Probe, set_index: int = 0) -> list[Probe]:
        """`shots` exemplars for `p`: its relation and language first (then only its language), known facts
        before the rest; `set_index` rotates to another set."""
        banned = {normalize(a) for a in p.answers} | {normalize(p.subject)} - {""}

        def usable(q: Probe) -> bool:
            return q.id != p.id and normalize(q.subject) not in banned and normalize(q.answer or "") not in banned

        chosen: list[Probe] = []
        for pool in (self._pools.get((p.relation, p.lang), []), self._pools.get(("*", p.lang), [])):
            ranked = sorted(
                (q for q in pool if usable(q) and q not in chosen),
                key=lambda q: (q.id not in self.known, _order(f"{p.id}/{set_index}", q.id)),
            )
            chosen += ranked[: self.shots - len(chosen)]
            if len(chosen) >= self.shots:
                break
        return chosen

    def prompt(self, p: Probe, set_index: int = 0, cloze: str | None = None) -> str:
        lines = [statement(q) for q in self.exemplars(p, set_index)]
        return "\n".join([*lines, cloze if cloze is not None else p.cloze[0]])


def screen_sample(probes: Sequence[Probe], n: int = SCREEN_SIZE, seed: int = 0) -> list[Probe]:
    """A seeded sample of answerable probes (the same on every run of the same probes)."""
    answerable = [p for p in probes if p.answer is not None and p.cloze]
    return sorted(answerable, key=lambda p: _order(f"screen/{seed}", p.id))[:n]


def choose(zero_right: int, few_right: int) -> str:
    """The mode `auto` takes after the screen."""
    return "few-shot" if few_right > zero_right else "zero-shot"
