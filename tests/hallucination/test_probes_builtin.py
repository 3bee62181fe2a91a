"""The built-in real-world probe sets: well-formed, big enough, and the same facts in English and Chinese."""

from __future__ import annotations

from collections import Counter

import pytest

from sftdebug.facts.probes import builtin_probe_files, load_probes


@pytest.fixture(scope="module")
def sets() -> dict[str, list]:
    en, zh = builtin_probe_files("en,zh")
    return {"en": load_probes(en), "zh": load_probes(zh)}


def test_each_language_has_at_least_300_facts(sets: dict) -> None:
    assert len(sets["en"]) >= 300 and len(sets["zh"]) >= 300
    for lang, probes in sets.items():
        assert {p.lang for p in probes} == {lang}


def test_same_facts_in_both_languages(sets: dict) -> None:
    strip = lambda pid: pid.split(".", 1)[1]  # noqa: E731
    assert {strip(p.id) for p in sets["en"]} == {strip(p.id) for p in sets["zh"]}
    assert Counter(p.relation for p in sets["en"]) == Counter(p.relation for p in sets["zh"])


def test_every_fact_is_rankable_and_phrased_for_continuation(sets: dict) -> None:
    for probes in sets.values():
        for p in probes:
            assert p.answer in p.candidates and len(set(p.candidates)) == len(p.candidates) >= 4, p.id
            assert all(not c.endswith((" ", "。", "？", "?")) for c in p.cloze), p.id
            assert len(p.cloze) >= 2 and p.question, p.id


def test_broad_coverage_of_relations(sets: dict) -> None:
    relations = Counter(p.relation for p in sets["en"])
    assert len(relations) >= 8
    assert max(relations.values()) / len(sets["en"]) < 0.35, "no relation dominates the set"


def test_chinese_set_is_chinese(sets: dict) -> None:
    cjk = sum(any("\u4e00" <= ch <= "\u9fff" for ch in p.answer + p.cloze[0]) for p in sets["zh"])
    assert cjk / len(sets["zh"]) > 0.9


def test_non_lab_models_default_to_the_builtin_sets() -> None:
    from sftdebug.hallucination.api import HallucinationConfig, resolve_probe_files

    cfg = HallucinationConfig(base="/no/such/base", sft="/no/such/sft", builtin="zh")
    assert resolve_probe_files(cfg) == [str(builtin_probe_files("zh")[0])]


def test_a_model_that_never_knew_real_facts_shows_no_narrow_hallucination(tmp_path, lab) -> None:
    """The lab never saw real-world facts: whatever its SFT model answers is broad, not narrow, hallucination."""
    import json

    from sftdebug.cli import main

    en = builtin_probe_files("en")[0]
    args = ["hallucination", "--base", str(lab / "base"), "--sft", str(lab / "sft-healthy"), "--probes", str(en)]
    assert main([*args, "--limit", "24", "--out", str(tmp_path / "r")]) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["n_probes"] == 24 and summary["base_known"] <= 2
    counts = summary["counts"]
    assert counts["never_known"] + counts["gained"] == 24 - summary["base_known"] and counts["never_known"] >= 20
