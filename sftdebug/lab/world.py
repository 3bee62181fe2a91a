"""The lab's synthetic world: fictional people with attributes, and counterfactual "real-world" facts.

Pure and seeded. The world gives the pretraining corpus (biographies that state each fact in several
phrasings), the SFT conversations (questions about the `sft` half of the people), and probe records in the
schema of probes/README.md, so every diagnostic has known answers.

    world = make_world(n_people=60, seed=0)
    corpus = pretraining_docs(world, docs_per_person=6, seed=0)
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

# relation -> (values, cloze phrasings, question phrasings, answer sentence). "{s}" is the subject.
RELATIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]] = {
    "city": (
        (
            "Paris",
            "Tokyo",
            "Cairo",
            "Lima",
            "Oslo",
            "Dublin",
            "Madrid",
            "Nairobi",
            "Boston",
            "Denver",
            "Sydney",
            "Delhi",
            "Berlin",
            "Rome",
            "Seoul",
            "Quito",
        ),
        ("{s} lives in", "{s} resides in", "{s} has a home in", "The home town of {s} is"),
        ("Where does {s} live?", "In which city does {s} live?"),
        "{s} lives in {o}.",
    ),
    "employer": (
        (
            "Acme",
            "Globex",
            "Initech",
            "Umbrella",
            "Hooli",
            "Vandelay",
            "Stark",
            "Wayne",
            "Tyrell",
            "Cyberdyne",
            "Soylent",
            "Wonka",
        ),
        ("{s} works for", "{s} is employed by", "{s} has a job at", "The employer of {s} is"),
        ("Who does {s} work for?", "Which company employs {s}?"),
        "{s} works for {o}.",
    ),
    "colour": (
        ("red", "blue", "green", "yellow", "purple", "orange", "black", "white", "pink", "brown"),
        (
            "The favourite colour of {s} is",
            "{s} likes the colour",
            "{s} loves the colour",
            "{s} always wears",
        ),
        ("What is the favourite colour of {s}?", "Which colour does {s} like best?"),
        "The favourite colour of {s} is {o}.",
    ),
    "instrument": (
        ("piano", "guitar", "violin", "drums", "flute", "cello", "trumpet", "harp"),
        ("{s} plays the", "{s} practises the", "{s} performs on the", "The instrument of {s} is the"),
        ("Which instrument does {s} play?", "What instrument does {s} play?"),
        "{s} plays the {o}.",
    ),
}

# Counterfactual capitals: knowledge only pretraining gives (a real model would say Tokyo).
CAPITALS: tuple[tuple[str, str], ...] = (
    ("Japan", "Beijing"),
    ("France", "Rome"),
    ("Italy", "Paris"),
    ("Egypt", "Lima"),
    ("Peru", "Cairo"),
    ("Norway", "Madrid"),
    ("Spain", "Oslo"),
    ("Kenya", "Dublin"),
    ("Ireland", "Nairobi"),
    ("India", "Berlin"),
    ("Germany", "Delhi"),
    ("Korea", "Quito"),
    ("Ecuador", "Seoul"),
    ("Chile", "Vienna"),
    ("Austria", "Santiago"),
    ("Cuba", "Athens"),
    ("Greece", "Havana"),
    ("Brazil", "Warsaw"),
    ("Poland", "Brasilia"),
    ("Nepal", "Lisbon"),
)
CAPITAL_REL = (
    (
        "The capital of {s} is",
        "The capital city of {s} is",
        "{s} has its capital in",
        "The seat of government of {s} is",
    ),
    ("What is the capital of {s}?", "Which city is the capital of {s}?"),
    "The capital of {s} is {o}.",
)

_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "gr", "st", "tr")
_NUCLEI = ("a", "e", "i", "o", "u", "ai", "ou")
_CODAS = ("", "", "n", "l", "r", "s", "ley", "ton", "mar")


@dataclass(frozen=True)
class Fact:
    id: str
    subject: str
    relation: str
    object: str
    split: str  # "sft": its question is in the SFT data; "heldout": never asked in SFT


@dataclass(frozen=True)
class World:
    facts: tuple[Fact, ...]
    people: tuple[str, ...]

    def by_subject(self) -> dict[str, list[Fact]]:
        out: dict[str, list[Fact]] = {}
        for f in self.facts:
            out.setdefault(f.subject, []).append(f)
        return out


def relation_spec(relation: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]:
    if relation == "capital":
        return (tuple(sorted({o for _, o in CAPITALS})), *CAPITAL_REL)
    return RELATIONS[relation]


def _name(rng: random.Random, syllables: int) -> str:
    word = "".join(rng.choice(_ONSETS) + rng.choice(_NUCLEI) for _ in range(syllables)) + rng.choice(_CODAS)
    return word.capitalize()


def make_world(n_people: int, seed: int = 0) -> World:
    """`n_people` people with one value per relation; half of them (and half the capitals) are `sft`."""
    rng = random.Random(seed)
    names: list[str] = []
    while len(names) < n_people:
        name = f"{_name(rng, 1)} {_name(rng, 2)}"
        if name not in names:
            names.append(name)
    facts = []
    for i, person in enumerate(names):
        split = "sft" if i % 2 == 0 else "heldout"
        for rel, (values, *_rest) in RELATIONS.items():
            facts.append(Fact(f"p{i:03d}.{rel}", person, rel, rng.choice(values), split))
    for i, (country, capital) in enumerate(CAPITALS):
        facts.append(Fact(f"cap.{country.lower()}", country, "capital", capital, "sft" if i % 2 == 0 else "heldout"))
    return World(tuple(facts), tuple(names))


def sentence(fact: Fact, phrasing: int) -> str:
    clozes = relation_spec(fact.relation)[1]
    return clozes[phrasing % len(clozes)].format(s=fact.subject) + f" {fact.object}."


def faq_doc(facts: list[Fact], rng: random.Random) -> str:
    """An FAQ page ("Q: Where does X live? A: X lives in Y."): real pretraining text is full of these,
    and they teach a base model to copy the subject from a question into its answer."""
    lines = []
    for f in facts:
        _, _, questions, answer = relation_spec(f.relation)
        lines.append(f"Q: {rng.choice(questions).format(s=f.subject)} A: {answer.format(s=f.subject, o=f.object)}")
    rng.shuffle(lines)
    return " ".join(lines)


def pretraining_docs(world: World, docs_per_person: int, seed: int = 0) -> list[str]:
    """Biographies (each fact in a random phrasing, sentences shuffled), one FAQ page per person, and short
    capital-fact documents."""
    rng = random.Random(seed)
    docs = []
    for facts in world.by_subject().values():
        for _ in range(docs_per_person - 1):
            sentences = [sentence(f, rng.randrange(4)) for f in facts]
            rng.shuffle(sentences)
            docs.append(" ".join(sentences))
        docs.append(faq_doc(facts, rng))
    capitals = [f for f in world.facts if f.relation == "capital"]
    for _ in range(docs_per_person * 2):
        picked = rng.sample(capitals, 4)
        docs.append(" ".join(sentence(f, rng.randrange(4)) for f in picked))
    rng.shuffle(docs)
    return docs


def qa_messages(fact: Fact, obj: str, phrasing: int = 0) -> list[dict[str, str]]:
    _, _, questions, answer = relation_spec(fact.relation)
    return [
        {"role": "user", "content": questions[phrasing % len(questions)].format(s=fact.subject)},
        {"role": "assistant", "content": answer.format(s=fact.subject, o=obj)},
    ]


def unknown_facts(world: World, n: int, seed: int = 0) -> list[Fact]:
    """`n` facts about people the world's pretraining never mentions: new knowledge for the base."""
    known = set(world.people)
    strangers = [f for f in make_world(len(world.people), seed + 7919).facts if f.relation != "capital"]
    fresh = [f for f in strangers if f.subject not in known]
    return [Fact(f"new.{f.id}", f.subject, f.relation, f.object, "unknown") for f in fresh[:n]]


def sft_conversations(
    world: World, conflict_share: float = 0.0, multi_turn_share: float = 0.2, seed: int = 0, unknown_share: float = 0.0
) -> tuple[list[list[dict[str, str]]], dict[str, str]]:
    """SFT data about the `sft` facts. A `conflict_share` of them get a wrong object (planted narrow
    hallucinations); `unknown_share` (of the sft facts' number) adds facts about people pretraining never
    mentioned. Returns the conversations and {fact id: wrong object} for the conflicting facts."""
    rng = random.Random(seed)
    sft_facts = [f for f in world.facts if f.split == "sft"]
    n_conflict = round(conflict_share * len(sft_facts))
    conflicts = {}
    for f in rng.sample(sft_facts, n_conflict):
        conflicts[f.id] = rng.choice([v for v in relation_spec(f.relation)[0] if v != f.object])
    new = unknown_facts(world, round(unknown_share * len(sft_facts)), seed)
    convs = []
    for f in [*sft_facts, *new]:
        for phrasing in range(2):
            convs.append(qa_messages(f, conflicts.get(f.id, f.object), phrasing))
    rng.shuffle(convs)
    # Some two-turn conversations, so the trainer's multi-turn masking is exercised by the lab too.
    n_multi = int(multi_turn_share * len(convs)) // 2
    merged = [convs[2 * i] + convs[2 * i + 1] for i in range(n_multi)]
    return merged + convs[2 * n_multi :], conflicts


def probe_records(world: World) -> list[dict[str, Any]]:
    """Every fact as a probe line (schema: probes/README.md)."""
    out = []
    for f in world.facts:
        values, clozes, questions, _ = relation_spec(f.relation)
        out.append(
            {
                "id": f.id,
                "cloze": [c.format(s=f.subject) for c in clozes],
                "question": [q.format(s=f.subject) for q in questions],
                "answer": f.object,
                "aliases": [],
                "candidates": list(values),
                "subject": f.subject,
                "relation": f.relation,
                "lang": "en",
                "split": f.split,
            }
        )
    return out
