"""probes/build_probes.py: the curated distractors of the built-in sets are checked against the answer with the
judge, every built-in probe has at least four of them, and the committed files are exactly what the script writes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from sftdebug.facts.match import contains_answer, normalize
from sftdebug.facts.probes import builtin_probe_files, load_probes
from sftdebug.hallucination.verdicts import base_correct, sft_correct

SCRIPT = Path(__file__).resolve().parents[2] / "probes" / "build_probes.py"
GOOD = ["Sydney", "Melbourne", "Brisbane", "Perth"]


@pytest.fixture(scope="module")
def bp() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_probes", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_confusable_distractors_pass(bp: ModuleType) -> None:
    assert bp.distractor_problems("en.capital.australia", ["Canberra"], GOOD) == []


@pytest.mark.parametrize(
    ("answers", "distractors", "left_out", "message"),
    [
        (["Canberra"], ["Canberra", *GOOD], [], "'Canberra' is the answer or an alias"),
        (["Canberra"], [" CANBERRA ", *GOOD], [], "is the answer or an alias"),  # case and spaces normalised
        (["Kyiv", "Kiev"], ["kiev", "Kharkiv", "Lviv", "Odesa", "Dnipro"], [], "'kiev' is the answer or an alias"),
        (["Canberra"], ["Greater Canberra", *GOOD], [], "the judge would take distractor 'Greater Canberra'"),
        (["Washington, D.C.", "Washington"], ["Washington Heights", *GOOD], [], "the judge would take"),
        (["Mexico City"], ["Mexico", *GOOD], [], "the judge would take distractor 'Mexico'"),  # a part of the answer
        (["约翰·施特劳斯", "施特劳斯"], ["理查·施特劳斯", "兰纳", "莱哈尔", "勃拉姆斯"], [], "the judge would take"),
        (["Canberra"], ["Sydney", "sydney", "Melbourne", "Perth", "Brisbane"], [], "'sydney' is listed twice"),
        (
            ["Alexander Graham Bell", "Bell"],
            ["Antonio Meucci", "Morse", "Tesla", "Marconi"],
            ["Antonio Meucci"],
            "disputed",
        ),
        (["Canberra"], ["Sydney", "Melbourne", "Perth"], [], "3 distractors, at least 4 needed"),
    ],
)
def test_a_distractor_that_could_be_the_answer_is_rejected_naming_the_probe(
    bp: ModuleType, answers: list[str], distractors: list[str], left_out: list[str], message: str
) -> None:
    problems = bp.distractor_problems("en.some.probe", answers, distractors, left_out)
    assert len(problems) == 1 and problems[0].startswith("en.some.probe: ") and message in problems[0], problems


def test_a_distractor_named_in_the_question_is_rejected(bp: ModuleType) -> None:
    problems = bp.distractor_problems("x", ["Canberra"], ["Australia", *GOOD], (), "What is the capital of Australia?")
    assert problems == ["x: distractor 'Australia' occurs in the question 'What is the capital of Australia?'"]


def test_the_build_stops_and_writes_nothing_when_an_alias_is_a_distractor(bp, tmp_path, monkeypatch, capsys) -> None:
    rows = [json.loads(line) for line in bp.DISTRACTORS.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        if row["id"] == "capital.ukraine":
            row["distractors"][0] = ["Kiev", "哈尔科夫"]  # Kiev is an alias of Kyiv; the Chinese form stays clean
    bad = tmp_path / "distractors.jsonl"
    bad.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    monkeypatch.setattr(bp, "DISTRACTORS", bad)
    monkeypatch.setattr(bp, "HERE", tmp_path / "out")
    assert bp.main() == 1
    err = capsys.readouterr().err
    assert "en.capital.ukraine: distractor 'Kiev' is the answer or an alias" in err and "zh.capital" not in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(bp.BuildError, match=r"en\.capital\.ukraine"):
        bp.check_distractors(bp.build(bp.load_distractors(bad)), bp.load_distractors(bad))


def test_a_fact_without_distractors_stops_the_build(bp: ModuleType) -> None:
    table = bp.load_distractors()
    del table["inventor.telephone"]
    with pytest.raises(bp.BuildError, match=r"no distractors for 'inventor\.telephone'"):
        bp.check_distractors(bp.build(table), table)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_builtin_probe_has_at_least_four_curated_distractors(bp: ModuleType, lang: str) -> None:
    table = bp.load_distractors()
    col = bp.LANGS.index(lang)
    probes = load_probes(builtin_probe_files(lang)[0])
    assert len(probes) == len(table)
    for p in probes:
        gold = {normalize(a) for a in p.answers}
        distractors = [c for c in p.candidates if normalize(c) not in gold]
        assert len(distractors) >= 4 and len(distractors) == len(p.candidates) - 1, p.id
        assert distractors and sorted(distractors) == sorted(
            d[col] for d in table[p.id.split(".", 1)[1]]["distractors"]
        )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_judge_takes_no_builtin_distractor_for_the_answer(lang: str) -> None:
    end = "." if lang == "en" else "。"
    for p in load_probes(builtin_probe_files(lang)[0]):
        assert sft_correct(f"{p.answer}{end}", p) and base_correct(f" {p.answer}{end}", p), p.id
        # an answer phrased like the cloze; not where the subject names the answer ("the Czech Republic": "Czech")
        says = None if contains_answer(p.cloze[0], p.answers) else f"{p.cloze[0]} {p.answer}{end}"
        assert says is None or sft_correct(says, p), (p.id, says)
        for d in set(p.candidates) - set(p.answers):
            assert not sft_correct(f"{d}{end}", p) and not base_correct(f" {d}{end}", p), (p.id, d)
            assert says is None or not sft_correct(f"{p.cloze[0]} {d}{end}", p), (p.id, d)


def test_regenerating_gives_the_committed_files(bp: ModuleType) -> None:
    sets = bp.build()
    bp.check_distractors(sets, bp.load_distractors())
    bp.check(sets)
    for lang, path in zip(bp.LANGS, builtin_probe_files(",".join(bp.LANGS)), strict=True):
        assert path.read_text(encoding="utf-8") == bp.render(sets[lang]), (
            f"{path.name}: run python probes/build_probes.py"
        )


def test_a_distractor_without_its_chinese_form_stops_the_build(bp: ModuleType) -> None:
    table = bp.load_distractors()
    table["capital.australia"]["distractors"][0] = ["Sydney"]
    with pytest.raises(bp.BuildError, match=r"en\.capital\.australia: each distractor needs one form per language"):
        bp.check_distractors(bp.build(table), table)
