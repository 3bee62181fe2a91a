"""What the base model already believes about each SFT row, before training. Pure: no engine, no I/O.

Every question → answer turn of a row is a *turn*. A turn whose answer is short (≤ `max_answer_words`) is a
fact; the base model is asked it closed-book — through a few-shot QA prompt built from other rows (several
exemplar sets), or through a probe's cloze phrasings when the question is a probe's — greedily and by sampling:

    highly_known   greedy gives the row's answer in every exemplar set / phrasing
    maybe_known    in some
    weakly_known   greedy never, sampling sometimes
    conflicts      the base consistently gives one *different* answer (its greedy answers lean to it and it finds it
                   ≥ 20× likelier than the row's): training the row overwrites a belief
    unknown        never, and no consistent alternative
    not_factual    a long answer: scored by its surprise (base NLL per token of the answer)

A row takes the riskiest label of its turns. Gekhman et al. (2024) showed unknown rows are fitted late and
raise hallucination once fitted; sftdebug's lab shows conflicting rows multiply the narrow-hallucination rate.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from sftdebug.hallucination.match import contains_answer, first_answer, first_claim, normalize
from sftdebug.hallucination.probes import Probe

# riskiest first: a row takes the first of these that any of its turns has
LABELS = ("conflicts", "unknown", "weakly_known", "maybe_known", "highly_known", "not_factual")
FACT_LABELS = LABELS[:5]


@dataclass(frozen=True)
class Turn:
    row: int  # index of the row in the file's usable rows
    where: str  # FILE:ROW
    turn: int  # which question → answer pair of the row
    question: str
    answer: str
    domain: str | None = None

    @property
    def key(self) -> str:
        return f"{self.where}#{self.turn}"


def turns_of(rows: Sequence[Any]) -> list[Turn]:
    """Every user → assistant pair of every row (`rows`: data.formats.Row)."""
    out = []
    for i, row in enumerate(rows):
        n = 0
        for prev, msg in pairwise(row.messages):
            if prev["role"] == "user" and msg["role"] == "assistant":
                out.append(Turn(i, row.where, n, prev["content"].strip(), msg["content"].strip(), row.domain))
                n += 1
    return out


def words(text: str) -> int:
    """Words, counting each CJK character as one (a Chinese answer has no spaces)."""
    from sftdebug.hallucination.match import _tokens

    return len(_tokens(text))


def is_fact(turn: Turn, max_answer_words: int) -> bool:
    return 0 < words(turn.answer) <= max_answer_words


def qa_block(question: str, answer: str | None = None) -> str:
    return f"Q: {question}\nA:" + (f" {answer}\n\n" if answer is not None else "")


def exemplar_sets(facts: Sequence[Turn], target: Turn, shots: int, n_sets: int, seed: int) -> list[list[Turn]]:
    """`n_sets` different few-shot exemplar sets for `target`, drawn from the other facts of the file
    (never the target's own row: its answer would leak), fixed by `seed` and the target's key."""
    pool = [t for t in facts if t.row != target.row]
    rng = random.Random(f"{seed}:{target.key}")
    return [rng.sample(pool, min(shots, len(pool))) for _ in range(n_sets)]


def fewshot_prompt(exemplars: Sequence[Turn], question: str) -> str:
    return "".join(qa_block(e.question, e.answer) for e in exemplars) + qa_block(question)


def probe_for(turn: Turn, probes_by_question: dict[str, Probe]) -> Probe | None:
    return probes_by_question.get(normalize(turn.question))


def index_probes(probes: Sequence[Probe]) -> dict[str, Probe]:
    """Probes with an answer, by each normalised question phrasing."""
    return {normalize(q): p for p in probes if p.answer is not None for q in p.question}


def _claim_of(text: str, probe: Probe | None) -> str:
    """What an answer asserts: the probe candidate it names first (with a probe), else its first claim."""
    claim = first_claim(text, clauses=True)
    if probe is not None:
        named = first_answer(claim, (*probe.candidates, *probe.answers))
        return normalize(named) if named else ""
    return normalize(claim)


def same(base_text: str, row_answer: str, probe: Probe | None) -> bool:
    """Does the base's answer give the row's answer? With a probe, the same candidate; otherwise the base's
    first claim names the row's answer or the row's answer contains the whole claim ("Kestra" for
    "Pul Gafuley lives in Kestra.")."""
    base = _claim_of(base_text, probe)
    if probe is not None:
        return bool(base) and base == _claim_of(row_answer, probe)
    row = normalize(first_claim(row_answer, clauses=True)) or normalize(row_answer)
    return bool(base) and (contains_answer(base, [row]) or contains_answer(row, [base]))


MARGIN = 3.0  # nats: the base must find its own answer e^3 ≈ 20× likelier than the row's to call it a conflict


def _belief(row_answer: str, greedy: Sequence[str], probe: Probe | None) -> tuple[list[bool], list[str], str, int]:
    """Which greedy answers give the row's answer, their claims, and the most common other claim with its count."""
    hits = [same(g, row_answer, probe) for g in greedy]
    claims = [_claim_of(g, probe) for g in greedy]
    others = Counter(c for c, hit in zip(claims, hits, strict=True) if c and not hit)
    belief, count = others.most_common(1)[0] if others else ("", 0)
    return hits, claims, belief, count


def contested(row_answer: str, greedy: Sequence[str], probe: Probe | None = None) -> tuple[str, str] | None:
    """(the row's claim, the base's other answer) to weigh by log-probability, when the base's greedy answers
    lean to one other answer (at least half of them, more than give the row's); None otherwise."""
    return _contested(row_answer, greedy, probe, *_belief(row_answer, greedy, probe))


def _contested(
    row_answer: str,
    greedy: Sequence[str],
    probe: Probe | None,
    hits: list[bool],
    claims: list[str],
    belief: str,
    count: int,
) -> tuple[str, str] | None:
    if not belief or 2 * count < len(claims) or count <= sum(hits):
        return None
    if probe is not None:
        names = {normalize(c): c for c in (*probe.candidates, *probe.answers)}
        row = names.get(_claim_of(row_answer, probe))
        return (row, names[belief]) if row else None
    return first_claim(row_answer, clauses=True), first_claim(greedy[claims.index(belief)], clauses=True)


def label_turn(
    row_answer: str,
    greedy: Sequence[str],
    samples: Sequence[str],
    probe: Probe | None = None,
    margin: float | None = None,
) -> dict[str, Any]:
    """The label of one fact turn from the base's greedy answers (one per exemplar set or phrasing), its sampled
    answers and, where the greedy answers lean to another answer (`contested`), `margin`: log p(that answer) −
    log p(the row's answer). A conflict needs a belief that is consistent — the greedy lean, and a margin of at
    least MARGIN (without log-probs, e.g. an endpoint that cannot score: at least half of the samples) — so
    that neither a stray greedy answer nor a stray sample decides it."""
    hits, claims, belief, count = _belief(row_answer, greedy, probe)
    out: dict[str, Any] = {"greedy_hits": sum(hits), "n_greedy": len(hits), "base_answers": claims}
    sample_hits = sum(same(s, row_answer, probe) for s in samples)
    if samples:
        out.update(sample_hits=sample_hits, n_samples=len(samples))
    if margin is not None:
        out["margin"] = margin
    leaning = _contested(row_answer, greedy, probe, hits, claims, belief, count) is not None
    firm = margin >= MARGIN if margin is not None else _samples_agree(belief, samples, probe)
    if hits and all(hits):
        out["label"] = "highly_known"
    elif leaning and firm:
        out.update(label="conflicts", base_belief=greedy[claims.index(belief)].strip())
    elif any(hits):
        out["label"] = "maybe_known"
    elif sample_hits:
        out["label"] = "weakly_known"
    else:
        out["label"] = "unknown"
    return out


def _samples_agree(claim: str, samples: Sequence[str], probe: Probe | None) -> bool:
    """With samples, a belief is consistent only if at least half of them give it too."""
    return not samples or 2 * sum(_claim_of(s, probe) == claim for s in samples) >= len(samples)


def row_label(turn_labels: Sequence[str]) -> str:
    return min(turn_labels, key=LABELS.index)
