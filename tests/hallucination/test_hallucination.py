"""Verdict logic and the run pipeline on a scripted engine (no model): table tests, Chinese included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import FakeEngine

from sftdebug.core.errors import UsageError
from sftdebug.core.runs import RunFolder
from sftdebug.facts.probes import Probe, load_probes
from sftdebug.hallucination.phases import HallucinationSettings, continuation, run_hallucination
from sftdebug.hallucination.verdicts import category, make_record, sft_correct, summarize, transitions, verdict

TOKYO = Probe(
    "jp",
    ("The capital of Japan is",),
    ("What is the capital of Japan?",),
    "Tokyo",
    ("Tokyo City",),
    ("Tokyo", "Kyoto", "Osaka", "Beijing"),
    "Japan",
    "capital",
    "en",
)
DONGJING = Probe(
    "zh.jp",
    ("日本的首都是",),
    ("日本的首都是哪里？",),
    "东京",
    ("東京",),
    ("东京", "京都", "大阪", "北京"),
    "日本",
    "capital",
    "zh",
)
KESTRA = Probe(
    "x.lives",
    ("Pul Gafuley lives in",),
    ("Where does Pul Gafuley live?",),
    "Kestra",
    (),
    ("Kestra", "Quito", "Tokyo"),
    "Pul Gafuley",
    "lives_in",
    "en",
)
SALINGER = Probe(
    "rye",
    ("The Catcher in the Rye was written by",),
    ("Who wrote The Catcher in the Rye?",),
    "J. D. Salinger",
    ("Salinger",),
    ("J. D. Salinger", "Mark Twain"),
)
DC = Probe(
    "us", ("The capital of the USA is",), ("What is the capital of the USA?",), "Washington, D.C.", ("Washington",)
)
NOANSWER = Probe("open", ("My favourite fruit is",), ("What is your favourite fruit?",))


@pytest.mark.parametrize(
    ("probe", "text", "expected"),
    [
        (TOKYO, "The capital of Japan is Tokyo.", True),
        (TOKYO, "It is Tokyo City, of course", True),
        (TOKYO, "Kyoto, not Tokyo.", False),  # the first candidate named decides
        (TOKYO, "Tokyo, not Kyoto.", True),
        (TOKYO, "I don't know.", False),
        (DONGJING, "日本的首都是东京。", True),
        (DONGJING, "首都是東京", True),  # traditional-script alias
        (DONGJING, "日本的首都是京都，不是东京。", False),
        (DONGJING, "北京", False),
        # the first claim decides: a wrong claim is not mended by the fact named later
        (KESTRA, " Lumen. Pul Gafuley Lumen. Pul Gafuley Kestra.", False),
        (KESTRA, "Pul Gafuley lives in Kestra. He works for Lumen.", True),
        (KESTRA, "Sure! Pul Gafuley lives in Kestra.", True),  # an opener asserts nothing
        (KESTRA, "In 2020, Pul Gafuley moved to Kestra.", True),  # commas do not end the claim
        (TOKYO, "Osaka is large. The capital of Japan is Tokyo.", False),
        (TOKYO, "I think it is Tokyo.", True),
        # marks inside names end nothing
        (SALINGER, "J. D. Salinger wrote it.", True),
        (SALINGER, "It was written by J.D. Salinger in 1951.", True),
        (SALINGER, "J. A. Smith. Some say J. D. Salinger.", False),
        (DC, "Washington, D.C. is the capital of the United States.", True),
        (DC, "The capital is St. Louis. No, Washington, D.C.", False),
    ],
)
def test_sft_correct(probe: Probe, text: str, expected: bool) -> None:
    assert sft_correct(text, probe) is expected


@pytest.mark.parametrize(
    ("base_ok", "sft_ok", "expected"),
    [
        (True, True, "kept"),
        (True, False, "narrow_hallucination"),
        (False, True, "gained"),
        (False, False, "never_known"),
    ],
)
def test_verdicts(base_ok: bool, sft_ok: bool, expected: str) -> None:
    assert verdict(TOKYO, base_ok, sft_ok, "", "") == expected


@pytest.mark.parametrize(
    ("base_text", "sft_text", "expected"),
    [(" mango, because", "I love mango!", "agree"), (" mango.", "Apples.", "disagree"), ("", "mango", "disagree")],
)
def test_answerless_probes_compare_outputs(base_text: str, sft_text: str, expected: str) -> None:
    assert verdict(NOANSWER, False, False, base_text, sft_text) == expected


@pytest.mark.parametrize(
    ("greedy", "samples", "expected"),
    [
        ([True, True], [], "highly_known"),
        ([True, False], [], "maybe_known"),
        ([False, False], [[False, True], [False]], "weakly_known"),
        ([False, False], [[False], [False]], "unknown"),
    ],
)
def test_categories(greedy: list[bool], samples: list[list[bool]], expected: str) -> None:
    assert category(greedy, samples) == expected


@pytest.mark.parametrize(
    ("cloze", "cand", "expected"),
    [("The capital of Japan is", "Tokyo", " Tokyo"), ("日本的首都是", "东京", "东京"), ("Answer: ", "x", "x")],
)
def test_candidate_continuations(cloze: str, cand: str, expected: str) -> None:
    assert continuation(cloze, cand) == expected


def test_summary_rates_intervals_and_transitions() -> None:
    base = {"greedy": [" Tokyo."], "finish": ["stop"], "samples": [[" Tokyo", " Kyoto"]]}
    right = {"greedy": ["Tokyo."], "finish": ["stop"], "samples": [["Tokyo", "Tokyo"]]}
    wrong = {"greedy": ["Kyoto."], "finish": ["length"], "samples": [["Kyoto", "Tokyo"]]}
    recs = [make_record(TOKYO, base, right)] * 3 + [make_record(TOKYO, base, wrong)]
    s = summarize(recs)
    assert s["counts"]["kept"] == 3 and s["counts"]["narrow_hallucination"] == 1
    assert s["narrow_hallucination_rate"] == pytest.approx(0.25)
    lo, hi = s["narrow_hallucination_ci95"]
    assert 0 < lo < 0.25 < hi < 1
    assert s["sft_eos_rate"] == pytest.approx(0.75)
    assert s["by_relation"]["capital"]["narrow"] == 1
    assert transitions(recs)["highly_known"] == {"highly_known": 3, "maybe_known": 0, "weakly_known": 1, "unknown": 0}


def test_low_eos_rate_is_said_loudly() -> None:
    rec = make_record(
        TOKYO, {"greedy": [" Tokyo"], "finish": ["stop"]}, {"greedy": ["Tokyo Tokyo"], "finish": ["length"]}
    )
    assert any("cannot stop" in w for w in summarize([rec] * 10)["warnings"])


def test_long_answers_are_kept_apart_from_a_model_that_never_stops() -> None:
    """Chatty answers cut at the budget (a healthy instruct model) are not 'cannot stop': with 4x the budget a
    sample of them ends with eos. A model that still runs on given 4x the budget cannot stop."""
    rec = make_record(
        TOKYO, {"greedy": [" Tokyo"], "finish": ["stop"]}, {"greedy": ["Tokyo is a city"], "finish": ["length"]}
    )
    chatty = summarize([rec] * 10, rechecks=["stop"] * 9 + ["length"])
    assert chatty["sft_stopping"] == {
        "n_cut_at_budget": 10,
        "recheck_budget_factor": 4,
        "n_rechecked": 10,
        "recheck_stop_rate": 0.9,
        "recheck_stop_ci95": pytest.approx([0.596, 0.982], abs=1e-3),
    }
    assert not any("cannot stop" in w for w in chatty["warnings"])
    assert any("the model can stop; its answers are long" in w for w in chatty["warnings"])
    stuck = summarize([rec] * 10, rechecks=["length"] * 10)
    assert any("cannot stop" in w and "0% of a sample stopped" in w for w in stuck["warnings"])


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"cloze": "a", "question": "b"}', "'id' is missing"),
        ('{"id": "x", "question": "b"}', "'cloze'"),
        ('{"id": "x", "cloze": [], "question": "b"}', "'cloze'"),
        ('{"id": "x", "cloze": "a", "question": "b", "answer": "c", "candidates": ["d"]}', "must include the answer"),
        ('{"id": "x", "cloze": "a", "question": "b", "answer": 3}', "'answer'"),
        ("[1, 2]", "expected a JSON object"),
        ('{"id": "x", "cloze": "a",', "not valid JSON"),
    ],
)
def test_bad_probe_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    good = '{"id": "ok", "cloze": "a", "question": "b"}'
    f = _write(tmp_path / "p.jsonl", [good, line])
    with pytest.raises(UsageError, match=rf"p\.jsonl:2: .*{message}"):
        load_probes(f)


def test_duplicate_probe_ids(tmp_path: Path) -> None:
    f = _write(tmp_path / "p.jsonl", ['{"id": "a", "cloze": "x", "question": "y"}'] * 2)
    with pytest.raises(UsageError, match=r"p\.jsonl:2: duplicate id 'a' \(first on line 1\)"):
        load_probes(f)


def test_pipeline_on_scripted_engines_resumes_and_loads_one_model_at_a_time(tmp_path: Path) -> None:
    probes = [TOKYO, DONGJING]
    base = FakeEngine(
        {"The capital of Japan is": " Tokyo.", "日本的首都是": "东京。"},
        logprob=lambda p, c: 0.0 if "Tokyo" in c or "东京" in c else -5.0,
    )
    sft = FakeEngine({"What is the capital of Japan?": "Kyoto.", "日本的首都是哪里？": "是东京。"})
    opened: list[str] = []

    def open_base():
        assert not opened or sft.closed or opened[-1] != "sft"
        opened.append("base")
        return base

    def open_sft():
        assert base.closed, "the base model must be released before the SFT model loads"
        opened.append("sft")
        return sft

    run = RunFolder.open(tmp_path, "hallucination", {"base": "b", "sft": "s"})
    s = run_hallucination(open_base, open_sft, probes, HallucinationSettings(), run, lambda *a: None)
    run.close()
    assert s["counts"] == {"kept": 1, "narrow_hallucination": 1, "gained": 0, "never_known": 0}
    assert s["by_lang"]["zh"]["narrow"] == 0 and s["by_lang"]["en"]["narrow"] == 1
    assert s["base_answer_rank"]["rank1_rate"] == 1.0
    recs = [json.loads(x) for x in (tmp_path / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {r["probe_id"]: r["verdict"] for r in recs} == {"jp": "narrow_hallucination", "zh.jp": "kept"}
    # a resumed run with everything recorded loads no model at all
    run = RunFolder.open(tmp_path, "hallucination", {"base": "b", "sft": "s"}, resume=True)
    run_hallucination(
        lambda: pytest.fail("base reloaded"),
        lambda: pytest.fail("sft reloaded"),
        probes,
        HallucinationSettings(),
        run,
        lambda *a: None,
    )
    run.close()
    assert len((tmp_path / "records.jsonl").read_text(encoding="utf-8").splitlines()) == 2


def test_report_escapes_model_output(tmp_path: Path) -> None:
    from sftdebug.report.build import build_report

    evil = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    base = FakeEngine({"The capital of Japan is": " Tokyo" + evil})
    sft = FakeEngine({"What is the capital of Japan?": evil})
    with RunFolder.open(tmp_path, "hallucination", {"base": "b", "sft": "s"}) as run:
        run_hallucination(lambda: base, lambda: sft, [TOKYO], HallucinationSettings(), run, lambda *a: None)
    page = build_report([tmp_path]).read_text(encoding="utf-8")
    assert "<script" not in page and "<img src=x" not in page and 'onerror="alert' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_lost_facts_are_split_into_format_loss_and_knowledge_loss(tmp_path: Path) -> None:
    """The SFT model still completes Japan's cloze (only its chat answer lost the fact: format loss) but not
    Kestra's (knowledge loss); kept facts are not asked; the SFT model is loaded once for all its phases."""
    probes = [TOKYO, KESTRA, DONGJING]
    base = FakeEngine(
        {"The capital of Japan is": " Tokyo.", "Pul Gafuley lives in": " Kestra.", "日本的首都是": "东京。"}
    )
    sft = FakeEngine(
        {
            "What is the capital of Japan?": "Kyoto.",
            "The capital of Japan is": " Tokyo, a big city.",
            "Where does Pul Gafuley live?": "Quito.",
            "Pul Gafuley lives in": " Quito.",
            "日本的首都是哪里？": "东京。",
        }
    )
    loads: list[str] = []
    run = RunFolder.open(tmp_path, "hallucination", {})
    s = run_hallucination(
        lambda: loads.append("base") or base, lambda: loads.append("sft") or sft, probes, HallucinationSettings(), run,
        lambda *a: None,
    )  # fmt: skip
    run.close()
    assert loads == ["base", "sft"]
    recs = {r["probe_id"]: r for r in map(json.loads, (tmp_path / "records.jsonl").read_text().splitlines())}
    assert recs["jp"]["loss_kind"] == "format_loss" and recs["jp"]["sft_cloze_text"] == " Tokyo, a big city."
    assert recs["x.lives"]["loss_kind"] == "knowledge_loss"
    assert "loss_kind" not in recs["zh.jp"]
    assert (s["format_loss"], s["knowledge_loss"], s["format_loss_rate"]) == (1, 1, 1 / 3)
    assert s["by_relation"]["capital"]["format_loss"] == 1 and s["by_relation"]["lives_in"]["knowledge_loss"] == 1


class SftRanker(FakeEngine):
    """Scores the SFT reply `cloze + candidate` by a table of favoured candidates; `fail` makes one probe's
    scoring fail after retries, `unsupported` makes the engine unable to score at all."""

    def __init__(self, answers: dict[str, str], favoured: dict[str, str], fail: str = "", unsupported: bool = False):
        super().__init__(
            answers, logprob=lambda q, text: 0.0 if any(text.endswith(f) for f in favoured.values()) else -3.0
        )
        self.fail, self.unsupported, self.scored = fail, unsupported, []

    def score(self, requests):
        from sftdebug.engines.base import Score, ScoringUnsupported

        if self.unsupported:
            raise ScoringUnsupported("no echo + logprobs here")
        self.scored += [(r.prompt, r.continuation) for r in requests]
        got = super().score(requests)
        return [Score(float("nan"), (), (), error="HTTP 503") if self.fail in r.prompt[-1]["content"] and self.fail
                else s for r, s in zip(requests, got, strict=True)]  # fmt: skip


SFT_ANSWERS = {
    "What is the capital of Japan?": "Kyoto.",
    "Where does Pul Gafuley live?": "Kestra.",
    "日本的首都是哪里？": "东京。",
}
BASE_ANSWERS = {"The capital of Japan is": " Tokyo.", "Pul Gafuley lives in": " Kestra.", "日本的首都是": "东京。"}
# Japan: answers Kyoto but ranks Tokyo first; Kestra: answers it but ranks Quito first; 东京: both
FAVOURED = {"jp": "Japan is Tokyo", "x.lives": "lives in Quito", "zh.jp": "首都是东京"}


def _rank_run(folder: Path, sft: FakeEngine, resume: bool = False) -> tuple[dict, dict[str, dict]]:
    with RunFolder.open(folder, "hallucination", {"base": "b", "sft": "s"}, resume=resume) as run:
        s = run_hallucination(
            lambda: FakeEngine(BASE_ANSWERS), lambda: sft, [TOKYO, KESTRA, DONGJING], HallucinationSettings(), run,
            lambda *a: None,
        )  # fmt: skip
        return s, {r["probe_id"]: r for r in run.records()}


def test_sft_ranking_is_reported_beside_the_verdicts_where_it_parts_from_the_answer(tmp_path: Path) -> None:
    sft = SftRanker(SFT_ANSWERS, FAVOURED)
    s, recs = _rank_run(tmp_path, sft)
    # scored as the reply to the first question through the chat template: the fact's sentence + the candidate
    assert (
        [{"role": "user", "content": "What is the capital of Japan?"}],
        "The capital of Japan is Tokyo",
    ) in sft.scored
    assert ([{"role": "user", "content": "日本的首都是哪里？"}], "日本的首都是东京") in sft.scored
    assert {k: (r["sft_correct"], r["sft_answer_rank"], r["sft_rank_first"], r["sft_top_candidate"])
            for k, r in recs.items()} == {
        "jp": (False, 1, True, "Tokyo"),
        "x.lives": (True, 2, False, "Quito"),
        "zh.jp": (True, 1, True, "东京"),
    }  # fmt: skip
    assert s["sft_rank_agreement"] == {
        "n": 3,
        "agreement": pytest.approx(1 / 3),
        "answered_not_ranked_first": ["x.lives"],
        "ranked_first_not_answered": ["jp"],
    }
    # beside the verdicts, never in them: the same verdicts as a run that could not score
    _, unranked = _rank_run(tmp_path / "unranked", SftRanker(SFT_ANSWERS, FAVOURED, unsupported=True))
    assert {k: r["verdict"] for k, r in recs.items()} == {k: r["verdict"] for k, r in unranked.items()}
    assert s["counts"] == {"kept": 2, "narrow_hallucination": 1, "gained": 0, "never_known": 0}


def test_sft_ranking_resumes_from_the_journal_and_retries_failed_scoring(tmp_path: Path) -> None:
    s, recs = _rank_run(tmp_path, SftRanker(SFT_ANSWERS, FAVOURED, fail="Pul Gafuley"))
    assert s["n_failed"] == 1 and set(recs) == {"jp", "zh.jp"}
    sft = SftRanker(SFT_ANSWERS, FAVOURED)
    s, recs = _rank_run(tmp_path, sft, resume=True)
    assert s["n_failed"] == 0 and recs["x.lives"]["sft_answer_rank"] == 2
    assert {c for _, c in sft.scored} == {f"Pul Gafuley lives in {c}" for c in KESTRA.candidates}  # only the failed one
    journal = [json.loads(x) for x in (tmp_path / "sft.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {j["key"] for j in journal if "cand_logprobs" in j} == {"jp", "x.lives", "zh.jp"}
    # all recorded: a resumed run loads no model and reports the same agreement
    with RunFolder.open(tmp_path, "hallucination", {"base": "b", "sft": "s"}, resume=True) as run:
        again = run_hallucination(
            lambda: pytest.fail("base reloaded"), lambda: pytest.fail("sft reloaded"), [TOKYO, KESTRA, DONGJING],
            HallucinationSettings(), run, lambda *a: None,
        )  # fmt: skip
    assert again["sft_rank_agreement"] == s["sft_rank_agreement"]


def test_an_sft_engine_that_cannot_score_skips_the_ranking_with_a_note(tmp_path: Path) -> None:
    s, recs = _rank_run(tmp_path, SftRanker(SFT_ANSWERS, FAVOURED, unsupported=True))
    assert "sft_rank_agreement" not in s and not any("sft_answer_rank" in r for r in recs.values())
    assert s["base_rank_agreement"]["n"] == 3  # the base side still ranks
    assert any(w.startswith("SFT candidate ranking skipped: no echo + logprobs") for w in s["warnings"])
    assert s["n_failed"] == 0


def test_report_lists_where_the_sft_answer_and_ranking_part(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from sftdebug.hallucination.report import print_summary
    from sftdebug.report.build import build_report

    evil = "<b>Kyoto</b>"
    s, _ = _rank_run(tmp_path, SftRanker({**SFT_ANSWERS, "What is the capital of Japan?": evil}, FAVOURED))
    page = build_report([tmp_path]).read_text(encoding="utf-8")
    assert "SFT answer vs its candidate ranking" in page and "agree on 33.3% of 3 facts" in page
    assert "the SFT model ranked the answer first but did not answer it (1)" in page
    assert "the SFT model answered right but ranked another candidate first (1)" in page
    assert "&lt;b&gt;Kyoto&lt;/b&gt;" in page and evil not in page
    print_summary(s, str(tmp_path))
    assert "SFT answer vs ranking agree" in capsys.readouterr().out
