"""The pure alignment and naming of differences (sftdebug/parity/compare.py), on a character tokenizer with a few
special tokens: a table of (trainer text, server text) -> kinds."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from sftdebug.parity.compare import Region, Side, compare_prompt, context

SPECIAL = {"<s>": 1000, "<u>": 1001, "<a>": 1002, "<e>": 1003, "<sys>": 1004}
NAMES = {v: k for k, v in SPECIAL.items()}
PIECE = re.compile("|".join(re.escape(s) for s in SPECIAL) + "|.", re.S)


def encode(text: str, split: bool = False) -> list[int]:
    """One id per character; markers are one special id each (or, with `split`, plain characters)."""
    return [ord(c) for c in text] if split else [SPECIAL.get(p, ord(p[0])) for p in PIECE.findall(text)]


MERGED_HI = 2000


def decode(ids: Sequence[int]) -> str:
    return "".join("Hi" if i == MERGED_HI else NAMES.get(i, chr(i) if i < 1000 else "") for i in ids)


def side(text: str, split: bool = False, ids: list[int] | None = None) -> Side:
    return Side(ids if ids is not None else encode(text, split), decode, frozenset(SPECIAL.values()), 1000)


def layout(text: str, messages: list[tuple[str, str]]) -> list[Region]:
    """Regions of a trainer prompt written as <s>[<sys>...<e>]<u>...<e>[<a>...<e><u>...<e>]<a>."""
    ids = encode(text)
    out, pos = [], 0
    for role, content in messages:
        marker = {"system": 1004, "user": 1001, "assistant": 1002}[role]
        start = ids.index(marker, pos)
        end = ids.index(1003, start) + 1
        part = "answer" if role == "assistant" else "message"
        out.append(Region(start if part == "message" else start + 1, end, role, part, content))
        pos = end
    out.append(Region(len(ids) - 1, len(ids), "assistant", "generation"))
    return out


BASE = "<s><sys>Be brief.<e><u>Hi there<e><a>Hello<e><u>Why?<e><a>"
MSGS = [("system", "Be brief."), ("user", "Hi there"), ("assistant", "Hello"), ("user", "Why?")]
CASES = [
    ("identical", BASE, []),
    ("bos_doubled", "<s>" + BASE, ["bos_doubled"]),
    ("bos_missing", BASE[3:], ["bos_missing"]),
    ("system_prompt", BASE.replace("Be brief.", "Be long."), ["system_prompt_differs"]),
    ("generation_prompt", BASE + "\n", ["generation_prompt_differs"]),
    ("whitespace", BASE.replace("Hi there", "Hi  there"), ["whitespace"]),
    ("history", BASE.replace("Hello", "Hel"), ["history_rewritten"]),
    ("template", BASE.replace("<u>Why?", "<u>\n:Why?"), ["template_differs"]),
]


@pytest.mark.parametrize("serve,kinds", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_difference_is_named(serve: str, kinds: list[str]) -> None:
    diffs = compare_prompt(side(BASE), side(serve), layout(BASE, MSGS))
    assert [d.kind for d in diffs] == kinds


def test_a_marker_in_plain_pieces_is_a_split_special_token_not_a_missing_bos() -> None:
    diffs = compare_prompt(side(BASE), side(BASE, split=True), layout(BASE, MSGS))
    assert {d.kind for d in diffs} == {"special_token_split"}
    assert diffs[0].train_pos == 0 and diffs[0].train_text == diffs[0].serve_text == "<s><sys>"


def test_same_text_in_other_ids_is_a_tokenization_difference() -> None:
    ids = encode(BASE)
    at = ids.index(ord("H"))
    merged = [*ids[:at], MERGED_HI, *ids[at + 2 :]]  # "Hi" as one token: same text, other ids
    diffs = compare_prompt(side(BASE), side(BASE, ids=merged), layout(BASE, MSGS))
    assert [(d.kind, d.train_text, d.serve_text) for d in diffs] == [("tokenization_differs", "Hi", "Hi")]


def test_context_marks_the_differing_tokens() -> None:
    view = context(side(BASE), 5, 2)
    assert [t["diff"] for t in view if t["diff"]] == [True, True]
    assert view[0]["pos"] == 0 and all("id" in t and "text" in t for t in view)
