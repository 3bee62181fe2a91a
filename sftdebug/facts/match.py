"""Answer matching: is a gold answer (or an alias) what the model said? Pure functions, no I/O.

Text is normalised (Unicode NFKC, case-folded, punctuation dropped, whitespace collapsed). Latin-script
answers must match whole words ("Rome" is not in "Romeo"); CJK answers match as plain substrings, since
CJK text has no word boundaries.

    >>> starts_with_answer(" Tokyo. Pul Gafuley works", ["Tokyo"])
    True
    >>> contains_answer("首都是东京。", ["东京"])
    True
    >>> first_claim("Sure! J. D. Salinger wrote it. Later he moved.")
    'J. D. Salinger wrote it'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
# one CJK character, or a run of anything else that is not a space: "钠的符号是na" -> 钠 的 符 号 是 na
_TOKEN = re.compile(f"[{_CJK_CHARS}]|[^\\s{_CJK_CHARS}]+")


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(ch)[0] in "PSZ" else ch for ch in text)
    return " ".join(text.split())


def words_of(text: str) -> list[str]:
    """Words for Latin text; single characters for CJK runs, so boundaries work for mixed text: a Latin answer
    glued to CJK text ("钠的化学符号是Na。") stays one word."""
    return _TOKEN.findall(normalize(text))


def _spans(words: list[str], names: Iterable[str]) -> list[tuple[int, int, str]]:
    """Every (start, end, name) where a name occurs in `words` as whole words."""
    found = []
    for name in names:
        t = words_of(name)
        found += [(i, i + len(t), name) for i in range(len(words) - len(t) + 1) if t and words[i : i + len(t)] == t]
    return found


def _named(text: str, names: Iterable[str], others: Iterable[str] = ()) -> list[tuple[int, int, str]]:
    """Where `names` occur in `text`, earliest first, leaving out an occurrence inside a longer occurrence of a
    name or of one of `others` ("Czech" in "the Czech Republic", with that among `others`)."""
    words = words_of(text)
    mine = _spans(words, names)
    every = mine + _spans(words, others)
    inside = {m for m in mine for o in every if o[0] <= m[0] and m[1] <= o[1] and o[1] - o[0] > m[1] - m[0]}
    return sorted((m for m in mine if m not in inside), key=lambda m: (m[0], m[0] - m[1], m[2]))


def contains_answer(text: str, answers: Iterable[str], others: Iterable[str] = ()) -> bool:
    """True when any answer occurs in `text` as whole words (substring for CJK), not inside one of `others`."""
    return bool(_named(text, answers, others))


def starts_with_answer(text: str, answers: Iterable[str]) -> bool:
    """True when `text` begins with an answer (after normalisation): the base-model cloze judgement."""
    words = words_of(text)
    return any((t := words_of(a)) and words[: len(t)] == t for a in answers)


def first_answer(text: str, candidates: Iterable[str], others: Iterable[str] = ()) -> str | None:
    """The candidate that occurs earliest in `text` (None if none does); ties go to the longest. A candidate
    inside a longer one, or inside one of `others` (the question's subject), is not named there."""
    named = _named(text, candidates, others)
    return named[0][2] if named else None


# A sentence ends at one of these marks; "." only where it is not an initial ("J. D."), an abbreviation
# ("St.", "Dr.") or inside a number ("3.14").
_SENTENCE_END = re.compile(r"[。！？!?;；\n]|\.(?!\d)")
_CLAUSE_END = re.compile(r"[。！？!?;；\n,，]|\.(?!\d)")
_ABBREVIATIONS = frozenset({"st", "mt", "ft", "dr", "mr", "mrs", "ms", "jr", "sr", "no", "vs", "prof", "gen", "col"})
# Openers of chat answers that assert nothing; a first sentence made only of one of them is skipped.
_FILLERS = frozenset(
    normalize(f)
    for f in ("sure", "of course", "certainly", "yes", "ok", "okay", "great question", "good question", "absolutely")
)


# "No, Heine did not write it." answers a leading question's premise and asserts no answer: skipped like "Sure!".
_DENIAL = re.compile(r"^(no\b|不[,，、 ]).*(\bnot\b|\bnever\b|n['’]t\b|不|没)", re.IGNORECASE | re.DOTALL)


def _protected(text: str, names: Iterable[str]) -> list[tuple[int, int]]:
    """Where `names` occur in `text` (case-insensitive): a mark inside one ("Washington, D.C.") ends nothing."""
    spans = []
    for name in names:
        if name.strip():
            pattern = r"\s+".join(re.escape(w) for w in name.split())
            spans += [m.span() for m in re.finditer(pattern, text, re.IGNORECASE)]
    return spans


def _ends_here(text: str, m: re.Match[str], spans: list[tuple[int, int]]) -> bool:
    if any(a <= m.start() < b for a, b in spans):
        return False
    if m.group() == ".":
        found = re.search(r"(\w+)$", text[: m.start()])
        word = found.group(1) if found else ""
        if (len(word) == 1 and word.isalpha()) or word.casefold() in _ABBREVIATIONS:
            return False
    return True


def first_claim(text: str, names: Iterable[str] = (), clauses: bool = False) -> str:
    """What an answer asserts first: its first sentence (first clause with `clauses`), never split inside one
    of `names`, skipping an opener such as "Sure!". Commas end a claim only with `clauses`: in chat answers
    they often come before the fact ("In 1884, Mark Twain wrote it")."""
    text, spans, start = text.strip(), _protected(text.strip(), names), 0
    marks = _CLAUSE_END if clauses else _SENTENCE_END
    for m in marks.finditer(text):
        if not _ends_here(text, m, spans):
            continue
        piece = text[start : m.start()].strip()
        if piece and normalize(piece) not in _FILLERS and not _DENIAL.match(piece):
            return piece
        start = m.end()
    return text[start:].strip()
