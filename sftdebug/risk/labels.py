"""What the base model already believes about each SFT row, before training. Pure: no engine, no I/O.

Every question → answer turn of a row is a *turn*. A turn whose answer is short (≤ `max_answer_words`) and whose
question asks for knowledge (`closed_book`: no input block, no task verb, no structured answer) is a fact; the
base model is asked it closed-book — through a few-shot QA prompt built from other rows (several exemplar sets),
or through a probe's cloze phrasings when the question is a probe's — greedily and by sampling:

    highly_known   greedy gives the row's answer in every exemplar set / phrasing
    maybe_known    in some
    conflicts      greedy never, and the base consistently gives one *different* answer about the same subject (its
                   greedy answers lean to it and, averaged over the prompts, it finds it ≥ 20× likelier than the
                   row's): training the row overwrites a belief
    weakly_known   greedy never, sampling sometimes
    unknown        never, and no consistent alternative
    not_factual    a long answer, or a task on material the question gives: scored by its surprise (base NLL
                   per token of the answer)

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

from sftdebug.facts.match import contains_answer, first_answer, first_claim, normalize, words_of
from sftdebug.facts.probes import Probe

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
    """Every user → assistant pair of every row (`rows`: sftdata.formats.Row)."""
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
    return len(words_of(text))


def is_fact(turn: Turn, max_answer_words: int) -> bool:
    return 0 < words(turn.answer) <= max_answer_words and closed_book(turn.question, turn.answer)


# Instructions that ask for work, not knowledge: their short outputs ("0.5", "fog.", a sorted list) are not facts.
_TASK_VERBS = frozenset({
    "transform", "rewrite", "rephrase", "paraphrase", "summarize", "summarise", "classify", "categorize",
    "categorise", "sort", "rearrange", "reorganize", "reorder", "convert", "translate", "edit", "correct", "improve",
    "generate", "create", "write", "compose", "design", "suggest", "brainstorm", "detect", "evaluate", "rate",
    "replace", "format", "calculate", "compute", "solve", "analyze", "analyse",
})  # fmt: skip
_TASK_PREFIXES_CJK = ("将", "把", "生成", "建议", "翻译", "改写", "重写", "总结", "概括", "分类", "换句话说", "写", "创作",
                      "设计", "编写", "计算", "选择", "排序", "转换")  # fmt: skip


def closed_book(question: str, answer: str) -> bool:
    """Does the question ask for something the base could know, rather than for work on material it supplies?
    Not when it carries an input block (alpaca's input after the instruction, on its own lines), starts with a
    task verb ("Transform …", "Classify …", "将以下…"), or the answer is structured (a tool call, JSON, markup):
    such short answers say nothing about the base's knowledge."""
    q, a = question.strip(), answer.lstrip()
    if "\n" in q or (a and a[0] in "{[<`"):
        return False
    first = normalize(q).split()[:2]
    verb = first[1] if first[:1] == ["please"] and len(first) > 1 else (first[0] if first else "")
    return verb not in _TASK_VERBS and not q.startswith(_TASK_PREFIXES_CJK)


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


@dataclass(frozen=True)
class Contest:
    """What a contested turn's margin weighs: after the prompt and the `prefix` both answers share, the row's
    rest against the base's rest ("Bron Parour plays the" + "cello" / "trumpet"), so that only the fact differs."""

    prefix: str
    row: str
    belief: str


def contested(row_answer: str, greedy: Sequence[str], probe: Probe | None = None, question: str = "") -> Contest | None:
    """The contest to weigh by log-probability when the base's greedy answers lean to one other answer (at least
    half of them, more than give the row's); None otherwise, or when the base's answer is about something else
    (`on_topic`)."""
    return _contested(row_answer, greedy, probe, question, *_belief(row_answer, greedy, probe))


# function words never count as the subject a row's answer restates from its question
_FUNCTION = frozenset({
    "a", "an", "the", "of", "in", "on", "at", "to", "for", "by", "with", "from", "and", "or", "is", "are", "was",
    "were", "be", "does", "do", "did", "what", "which", "who", "whom", "whose", "where", "when", "why", "how",
    "that", "this", "it", "its", "his", "her", "their",
})  # fmt: skip


def on_topic(question: str, row_claim: str, base_claim: str) -> bool:
    """Is the base's claim about the row's subject? What the row's claim restates from the question ("Bron Parour"
    in "Bron Parour plays the cello.") must be in the base's claim too: "Vu Lubailey plays the trumpet." is the
    base continuing the few-shot pattern with another person, not a belief about this one. (Exemplars are rows of
    the same file, so a base answers in the rows' own form: bare answers where rows are bare, nothing restated.)"""
    restated = (set(words_of(question)) & set(words_of(row_claim))) - _FUNCTION
    return restated <= set(words_of(base_claim))


def _split_shared(row: str, belief: str) -> Contest | None:
    """The longest word prefix the two claims share (compared normalised), and what differs after it."""
    rw, bw = row.split(), belief.split()
    k = 0
    while k < min(len(rw), len(bw)) and normalize(rw[k]) == normalize(bw[k]):
        k += 1
    rest_row, rest_belief = " ".join(rw[k:]), " ".join(bw[k:])
    return Contest(" ".join(rw[:k]), rest_row, rest_belief) if rest_row and rest_belief else None


def _contested(
    row_answer: str,
    greedy: Sequence[str],
    probe: Probe | None,
    question: str,
    hits: list[bool],
    claims: list[str],
    belief: str,
    count: int,
) -> Contest | None:
    if not belief or 2 * count < len(claims) or count <= sum(hits):
        return None
    if probe is not None:
        names = {normalize(c): c for c in (*probe.candidates, *probe.answers)}
        row = names.get(_claim_of(row_answer, probe))
        return Contest("", row, names[belief]) if row else None
    row_claim = first_claim(row_answer, clauses=True)
    base_claim = first_claim(greedy[claims.index(belief)], clauses=True)
    if not on_topic(question, row_claim, base_claim):
        return None
    return _split_shared(row_claim, base_claim)


def label_turn(
    row_answer: str,
    greedy: Sequence[str],
    samples: Sequence[str],
    probe: Probe | None = None,
    margin: float | None = None,
    question: str = "",
) -> dict[str, Any]:
    """The label of one fact turn from the base's greedy answers (one per exemplar set or phrasing), its sampled
    answers and, where the greedy answers lean to another answer (`contested`), `margin`: log p(that answer) −
    log p(the row's answer), averaged over the turn's prompts (every way of asking, not only the first). A
    conflict needs greedy never to give the row's answer and a belief that is consistent — the greedy lean, and a
    margin of at least MARGIN (without log-probs, e.g. an endpoint that cannot score: at least half of the
    samples) — so that neither a stray greedy answer nor a stray sample decides it."""
    hits, claims, belief, count = _belief(row_answer, greedy, probe)
    out: dict[str, Any] = {"greedy_hits": sum(hits), "n_greedy": len(hits), "base_answers": claims}
    sample_hits = sum(same(s, row_answer, probe) for s in samples)
    if samples:
        out.update(sample_hits=sample_hits, n_samples=len(samples))
    if margin is not None:
        out["margin"] = margin
    leaning = _contested(row_answer, greedy, probe, question, hits, claims, belief, count) is not None
    firm = margin >= MARGIN if margin is not None else _samples_agree(belief, samples, probe)
    if hits and all(hits):
        out["label"] = "highly_known"
    elif any(hits):  # the base does give the row's answer one way of asking: no consistent other belief
        out["label"] = "maybe_known"
    elif leaning and firm:
        out.update(label="conflicts", base_belief=greedy[claims.index(belief)].strip())
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
