"""Answer matching: is a gold answer (or an alias) what the model said? Pure functions, no I/O.

Text is normalised (Unicode NFKC, case-folded, punctuation dropped, whitespace collapsed). Latin-script
answers must match whole words ("Rome" is not in "Romeo"); CJK answers match as plain substrings, since
CJK text has no word boundaries.

    >>> starts_with_answer(" Tokyo. Pul Gafuley works", ["Tokyo"])
    True
    >>> contains_answer("首都是东京。", ["东京"])
    True
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(ch)[0] in "PSZ" else ch for ch in text)
    return " ".join(text.split())


def _is_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def _tokens(text: str) -> list[str]:
    """Words for Latin text; single characters for CJK runs (so boundaries work for mixed text)."""
    out: list[str] = []
    for word in normalize(text).split():
        if _is_cjk(word):
            out.extend(word)
        else:
            out.append(word)
    return out


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """True when any answer occurs in `text` as whole words (substring for CJK)."""
    words = _tokens(text)
    for ans in answers:
        target = _tokens(ans)
        if target and any(words[i : i + len(target)] == target for i in range(len(words) - len(target) + 1)):
            return True
    return False


def starts_with_answer(text: str, answers: Iterable[str]) -> bool:
    """True when `text` begins with an answer (after normalisation): the base-model cloze judgement."""
    words = _tokens(text)
    return any((t := _tokens(a)) and words[: len(t)] == t for a in answers)


def first_answer(text: str, candidates: Iterable[str]) -> str | None:
    """The candidate that occurs earliest in `text` (None if none does); ties go to the longest."""
    words = _tokens(text)
    best: tuple[int, int, str] | None = None
    for cand in candidates:
        t = _tokens(cand)
        for i in range(len(words) - len(t) + 1):
            if t and words[i : i + len(t)] == t:
                key = (i, -len(t), cand)
                best = key if best is None or key < best else best
                break
    return best[2] if best else None
