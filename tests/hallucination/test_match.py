from __future__ import annotations

import pytest

from sftdebug.facts.match import contains_answer, first_answer, first_claim, normalize, starts_with_answer


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


@pytest.mark.parametrize(
    ("text", "answers", "expected"),
    [
        ("钠的化学符号是Na。", ["Na"], True),  # a Latin answer glued to CJK text stays one word
        ("钠的化学符号是Nay。", ["Na"], False),
        ("铜的化学符号是Cu和Na", ["Cu"], True),
    ],
)
def test_latin_answer_inside_cjk_text(text: str, answers: list[str], expected: bool) -> None:
    assert contains_answer(text, answers) is expected


def test_a_name_inside_the_subject_is_not_named() -> None:
    cands, subject = ["Polish", "Czech", "Slovak"], ["the Czech Republic", "Czech Republic"]
    assert first_answer("The language of the Czech Republic is Slovak", cands, subject) == "Slovak"
    assert first_answer("In the Czech Republic, people speak Czech", cands, subject) == "Czech"
    assert not contains_answer("Czech Republic", ["Czech"], subject)
    assert first_answer("The language of the Czech Republic is Slovak", cands) == "Czech"  # without the subject


def test_a_denial_of_the_question_is_not_the_claim() -> None:
    assert first_claim("No, they do not speak Polish. Czech is spoken there.") == "Czech is spoken there"
    assert first_claim("No, the capital is Canberra.") == "No, the capital is Canberra"  # a 'no' that answers
    assert first_claim("不，悉尼不是首都。首都是堪培拉。") == "首都是堪培拉"
