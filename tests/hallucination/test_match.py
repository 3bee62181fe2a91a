from __future__ import annotations

import pytest

from sftdebug.hallucination.match import contains_answer, first_answer, normalize, starts_with_answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Tokyo.  ", "tokyo"),
        ("ＴＯＫＹＯ", "tokyo"),  # full-width letters fold under NFKC
        ("São  Paulo!", "são paulo"),
        ("東京。", "東京"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "answers", "expected"),
    [
        (" Tokyo. Pul works", ["Tokyo"], True),
        (" tokyo", ["Tokyo"], True),
        (" Kyoto, not Tokyo", ["Tokyo"], False),
        (" the drums.", ["drums"], False),  # the article comes first: not an answer at the start
        ("New York City", ["New York"], True),
        ("Newark", ["New"], False),  # whole words only
        ("东京是首都", ["东京"], True),
        ("首都是东京", ["东京"], False),
        ("", ["Tokyo"], False),
    ],
)
def test_starts_with_answer(text: str, answers: list[str], expected: bool) -> None:
    assert starts_with_answer(text, answers) is expected


@pytest.mark.parametrize(
    ("text", "answers", "expected"),
    [
        ("Pul Gafuley lives in Tokyo.", ["Tokyo"], True),
        ("He lives in Romeo.", ["Rome"], False),
        ("He lives in ROME!", ["Rome"], True),
        ("日本的首都是东京。", ["东京"], True),
        ("日本的首都是北京。", ["东京", "東京"], False),
        ("The capital is 東京", ["东京", "東京"], True),  # alias in traditional script
        ("", ["x"], False),
    ],
)
def test_contains_answer(text: str, answers: list[str], expected: bool) -> None:
    assert contains_answer(text, answers) is expected


def test_first_answer_picks_earliest_then_longest() -> None:
    cands = ["Paris", "Rome", "New York", "New"]
    assert first_answer("Not Rome but Paris", cands) == "Rome"
    assert first_answer("New York is big", cands) == "New York"
    assert first_answer("nothing here", cands) is None
