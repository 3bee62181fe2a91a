"""Synthetic special-token facts ("<sft_ent_3> likes <sft_ent_17>."): a clean probe of how SFT fits.

Brand-new tokens have no pretraining prior, so whatever a model knows about them it learned in SFT. Facts
pair entities through a derangement (a permutation without fixed points), so every reverse question ("Who
likes <sft_ent_17>?") has exactly one answer. A share of the facts is never trained: the controls, which
tell what "knowing" looks like by chance. Pure functions; engines drive them in overfit/evaluate.py, training in overfit/sweep.py.

    facts = make_facts(n_facts=50, relations=("likes", "mentors"), seed=0)
    rows = train_rows(facts, repeats=3)        # chat messages to mix into SFT data
    items = eval_items(facts)                  # trained wording, paraphrase, reverse, control
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

# relation -> (trained question, paraphrased question, reverse question, answer sentence)
TEMPLATES: dict[str, tuple[str, str, str, str]] = {
    "likes": ("Who does {s} like?", "Whom is {s} fond of?", "Who likes {o}?", "{s} likes {o}."),
    "mentors": ("Who does {s} mentor?", "Whose mentor is {s}?", "Who mentors {o}?", "{s} mentors {o}."),
    "admires": ("Who does {s} admire?", "Name the person {s} looks up to.", "Who admires {o}?", "{s} admires {o}."),
    "follows": ("Who does {s} follow?", "Whom is {s} a follower of?", "Who follows {o}?", "{s} follows {o}."),
}
FORMS = ("trained", "paraphrase", "reverse", "control")


def entity(i: int) -> str:
    return f"<sft_ent_{i}>"


@dataclass(frozen=True)
class CanaryFact:
    id: str
    subject: str
    relation: str
    object: str
    trained: bool  # False: a control, never in the SFT data


@dataclass(frozen=True)
class EvalItem:
    id: str
    fact_id: str
    form: str  # trained | paraphrase | reverse | control
    question: str
    answer: str  # the entity token expected in the answer
    about: str  # the entity the question names (not an answer)
    prefix: str  # the answer sentence up to the expected entity (for exposure scoring)
    sentence: str  # the full answer sentence in the trained format ("<s> likes <o>.")


def derangement(n: int, rng: random.Random) -> list[int]:
    """A uniformly random permutation with no fixed points (rejection sampling; ~e tries on average)."""
    if n < 2:
        raise ValueError("a derangement needs at least 2 elements")
    while True:
        perm = list(range(n))
        rng.shuffle(perm)
        if all(i != p for i, p in enumerate(perm)):
            return perm


def make_facts(
    n_facts: int, relations: Sequence[str] = ("likes", "mentors"), control_share: float = 0.2, seed: int = 0
) -> list[CanaryFact]:
    unknown = [r for r in relations if r not in TEMPLATES]
    if unknown:
        raise ValueError(f"unknown relation(s) {unknown}: choose from {', '.join(TEMPLATES)}")
    rng = random.Random(seed)
    perm = derangement(n_facts, rng)
    controls = set(rng.sample(range(n_facts), round(control_share * n_facts)))
    return [
        CanaryFact(f"f{i:03d}", entity(i), relations[i % len(relations)], entity(perm[i]), i not in controls)
        for i in range(n_facts)
    ]


def tokens(facts: Sequence[CanaryFact]) -> list[str]:
    return sorted({f.subject for f in facts} | {f.object for f in facts}, key=lambda t: int(t[9:-1]))


def train_rows(facts: Sequence[CanaryFact], repeats: int = 3) -> list[dict[str, Any]]:
    """Chat rows in the trained wording, `repeats` copies of each trained fact."""
    rows = []
    for f in facts:
        if f.trained:
            q, _, _, a = TEMPLATES[f.relation]
            msgs = [
                {"role": "user", "content": q.format(s=f.subject)},
                {"role": "assistant", "content": a.format(s=f.subject, o=f.object)},
            ]
            rows += [{"messages": msgs, "fact_id": f.id}] * repeats
    return rows


def eval_items(facts: Sequence[CanaryFact]) -> list[EvalItem]:
    items = []
    for f in facts:
        q, para, rev, a = TEMPLATES[f.relation]
        answer = a.format(s=f.subject, o=f.object)
        obj_prefix = answer[: answer.index(f.object)]
        forward = [("trained", q), ("paraphrase", para)] if f.trained else [("control", q)]
        for form, question in forward:
            items.append(
                EvalItem(
                    f"{f.id}.{form}", f.id, form, question.format(s=f.subject), f.object, f.subject, obj_prefix, answer
                )
            )
        if f.trained:
            # Reversed: the subject is what must be recalled, so the prefix stops before it.
            items.append(
                EvalItem(f"{f.id}.reverse", f.id, "reverse", rev.format(o=f.object), f.subject, f.object, "", answer)
            )
    return items


def exposure(rank: int, n_candidates: int) -> float:
    """Carlini et al.'s exposure: log2 |candidates| − log2 rank (0 = no better than the worst guess;
    log2 |candidates| = the true entity ranked first)."""
    if not 1 <= rank <= n_candidates:
        raise ValueError(f"rank {rank} outside 1..{n_candidates}")
    return math.log2(n_candidates) - math.log2(rank)


def rank_of(true: str, logprobs: dict[str, float]) -> int:
    """1 + the number of candidates scored strictly higher than the true one."""
    return 1 + sum(1 for c, lp in logprobs.items() if c != true and lp > logprobs[true])


def states_fact(text: str, sentence: str) -> bool:
    """Does the answer state the fact: the full answer sentence, subject, relation and object in order? (Naming
    the right entity somewhere is not enough: "<b> likes <c>" names <b> but does not say <a> likes <b>.)"""
    return " ".join(sentence.rstrip(".").split()) in " ".join(text.split())


def to_dicts(items: Sequence[CanaryFact] | Sequence[EvalItem]) -> list[dict[str, Any]]:
    return [asdict(x) for x in items]


def verdict(recall: dict[str, float | None], collateral_growth: float | None) -> str:
    """overfitting: the trained wording is memorised while paraphrase and reverse lag far behind and/or the
    model's prior knowledge pays for it; generalising: paraphrases follow; not_learned: not even memorised."""
    trained, para, rev = recall.get("trained") or 0.0, recall.get("paraphrase") or 0.0, recall.get("reverse") or 0.0
    if trained < 0.5:
        return "not_learned"
    if para < 0.5 * trained or rev < 0.5 * trained or (collateral_growth or 0) > 0.05:
        return "overfitting"
    return "generalising"
