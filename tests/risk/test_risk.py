"""`sftdebug risk`: turn labels (table tests), the prediction from a lab curve, relabelled/filtered copies in the
input's own format, and on the lab: planted conflicts found, healthy data clean, risk ranking = narrow ranking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import bar, one_line_error, sftdebug

from sftdebug.core.runs import read_records, read_summary
from sftdebug.engines.base import Completion, GenerationRequest
from sftdebug.facts.probes import Probe
from sftdebug.risk.labels import Contest, Turn, closed_book, contested, exemplar_sets, label_turn, row_label, turns_of
from sftdebug.risk.phases import RiskSettings, screen_exemplars
from sftdebug.risk.summary import predict_from_lab, predict_range
from sftdebug.sftdata.formats import load_sft_file

# its module-scoped runs are built once: the whole module on one pytest-xdist worker
pytestmark = pytest.mark.xdist_group("risk-lab")

CITY = Probe(
    "p1.city", ("Pul Gafuley lives in",), ("Where does Pul Gafuley live?",), "Kestra", (), ("Kestra", "Quito", "Lima")
)


@pytest.mark.parametrize(
    ("answer", "greedy", "samples", "probe", "label"),
    [
        ("Tokyo", ["Tokyo", " Tokyo."], [], None, "highly_known"),
        ("Tokyo", ["Tokyo", "Kyoto"], [], None, "maybe_known"),
        ("Tokyo", ["Osaka", "Kyoto", "Nara"], ["Tokyo", "Nara"], None, "weakly_known"),
        ("Tokyo", ["Osaka", "Kyoto", "Nara"], ["Nara"], None, "unknown"),
        ("Tokyo", ["Kyoto", "Kyoto.", "Osaka"], ["Kyoto", "Kyoto", "Tokyo"], None, "conflicts"),
        # one way of asking gives the row's answer: maybe known, however the others lean
        ("Tokyo", ["Tokyo", "Kyoto", "Kyoto", "Kyoto"], [], None, "maybe_known"),
        # a stray sample does not outweigh a consistent belief, but scattered samples do
        ("Tokyo", ["Kyoto", "Kyoto"], ["Kyoto", "Nara", "Osaka", "Tokyo"], None, "weakly_known"),
        # the row's sentence answer contains the base's short claim
        ("Pul Gafuley lives in Kestra.", [" Kestra.", " Kestra"], [], None, "highly_known"),
        # through a probe: the candidate named decides
        ("Pul Gafuley lives in Quito.", [" Kestra.", " Kestra, a city"], [], CITY, "conflicts"),
        ("Pul Gafuley lives in Kestra.", [" Kestra.", " Lima"], [], CITY, "maybe_known"),
        ("Pul Gafuley lives in Kestra.", [" the city", ""], [], CITY, "unknown"),
    ],
)
def test_turn_labels(answer: str, greedy: list[str], samples: list[str], probe: Probe | None, label: str) -> None:
    assert label_turn(answer, greedy, samples, probe)["label"] == label


@pytest.mark.parametrize(
    ("question", "answer", "fact"),
    [
        ("Which company employs Fain Kafaimar?", "Fain Kafaimar works for Wonka.", True),
        ("Name one of the branches of science", "Physics.", True),
        ("9和10哪个数更大？", "10比9大。", True),
        # alpaca's input block after the instruction: the answer is about the given text, not knowledge
        ("Identify the sentiment of the sentence, 0.5 for neutral.\nThe products were", "0.5", False),
        ("Transform the following sentence using a synonym: The car sped quickly.", "The car sped fast.", False),
        ("Please translate 'cat' into French.", "chat", False),
        ("将以下数字集合从正数改为负数。", "-1、-2", False),
        ("What is the stock price of Apple?", '{"name": "get_stock_price", "arguments": {"company": "Apple"}}', False),
    ],
)
def test_only_closed_book_questions_are_facts(question: str, answer: str, fact: bool) -> None:
    assert closed_book(question, answer) is fact


INSTRUMENT = "Which instrument does Bron Parour play?"
JAPAN = "What is the capital of Japan?"


@pytest.mark.parametrize(
    ("question", "answer", "greedy", "probe", "contest"),
    [
        # only the fact is weighed: after the words both sentences share
        (INSTRUMENT, "Bron Parour plays the cello.", ["Bron Parour plays the trumpet. Q: Who", "Bron Parour plays "
         "the trumpet."], None, Contest("Bron Parour plays the", "cello", "trumpet")),
        # a few-shot base continuing the pattern with another person holds no belief about this row
        (INSTRUMENT, "Bron Parour plays the cello.", ["Vu Lubailey plays the trumpet."] * 2, None, None),
        (JAPAN, "The capital of Japan is Tokyo.", ["The capital of France is Paris."] * 2, None, None),
        (JAPAN, "Tokyo", ["Kyoto", " Kyoto."], None, Contest("", "Tokyo", "Kyoto")),
        (JAPAN, "Tokyo", ["Kyoto", "Tokyo"], None, None),  # no lean: as many give the row's answer
        ("Where does Pul Gafuley live?", "Pul Gafuley lives in Quito.", [" Kestra.", " Kestra"], CITY,
         Contest("", "Quito", "Kestra")),
    ],
)  # fmt: skip
def test_contests_weigh_the_fact_about_the_rows_subject(
    question: str, answer: str, greedy: list[str], probe: Probe | None, contest: Contest | None
) -> None:
    assert contested(answer, greedy, probe, question) == contest
    if contest is None:  # however large a margin, no contest is no conflict
        assert label_turn(answer, greedy, [], probe, 50.0, question)["label"] != "conflicts"


def test_row_takes_its_riskiest_turn_and_exemplars_never_include_the_row(tmp_path: Path) -> None:
    assert row_label(["highly_known", "conflicts", "not_factual"]) == "conflicts"
    f = tmp_path / "d.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
        for i in range(6)
    ]
    rows[0]["messages"] += [{"role": "user", "content": "q0b"}, {"role": "assistant", "content": "a0b"}]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    turns = turns_of(load_sft_file(f).rows)
    assert [(t.row, t.turn) for t in turns[:2]] == [(0, 0), (0, 1)]
    sets = exemplar_sets(turns, turns[0], shots=4, n_sets=3, seed=0)
    assert len(sets) == 3 and all(len(s) == 4 and all(e.row != 0 for e in s) for s in sets)
    assert exemplar_sets(turns, turns[0], 4, 3, 0) == sets, "fixed by the seed"


class _Knows:
    """A base that answers a few-shot prompt's last question from a table, whatever its exemplars say."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table

    def generate(self, requests: list[GenerationRequest]) -> list[list[Completion]]:
        asked = [str(r.prompt).rsplit("Q: ", 1)[1].split("\n", 1)[0] for r in requests]
        return [
            [Completion(" " + self.table[q], (1,), 1, "stop", "eos")] * r.params.n
            for q, r in zip(asked, requests, strict=True)
        ]


def test_exemplars_are_rows_the_base_agrees_with() -> None:
    """Rows that contradict the base never serve as exemplars (they would teach it to accept wrong answers)."""
    turns = [Turn(i, f"d.jsonl:{i + 1}", 0, f"Question {i}?", f"Answer{i}") for i in range(10)]
    table = {t.question: t.answer if t.row < 6 else "Other" for t in turns}
    pool, info = screen_exemplars(_Knows(table), turns, RiskSettings(shots=2))  # type: ignore[arg-type]
    assert {t.row for t in pool} == set(range(6))
    assert info == {"screened": 10, "agreed": 6, "pool": "rows the base agrees with"}
    pool, info = screen_exemplars(_Knows(dict.fromkeys(table, "Other")), turns, RiskSettings(shots=2))  # type: ignore[arg-type]
    assert len(pool) == 10 and info["agreed"] == 0 and info["pool"].startswith("all fact rows")


def test_lab_curve_prediction_is_a_range() -> None:
    """Conflicting rows read on the shares risk measured at lab build; unknown rows priced by the unknown variant's
    rate above what its own conflicting share predicts; an older lab (no measured shares) at the planted ones."""
    healthy = {"model": "h", "conflict_share": 0.0, "unknown_share": 0.0, "narrow_rate": 0.02, "ci95": [0.01, 0.04],
               "risk": {"conflicts_share": 0.05, "unknown_share": 0.0}}  # fmt: skip
    conflict = {"model": "c", "conflict_share": 0.5, "unknown_share": 0.0, "narrow_rate": 0.4, "ci95": [0.36, 0.44],
                "risk": {"conflicts_share": 0.55, "unknown_share": 0.0}}  # fmt: skip
    unknown = {"model": "u", "conflict_share": 0.0, "unknown_share": 0.25, "narrow_rate": 0.12, "ci95": [0.1, 0.14],
               "risk": {"conflicts_share": 0.05, "unknown_share": 0.2}}  # fmt: skip
    p = predict_from_lab(0.30, 0.1, [healthy, conflict])
    assert p["narrow_rate_range"] == pytest.approx([0.185, 0.24]) and not p["extrapolated"] and p["measured_x"]
    assert p["unknown_cost_per_share"] is None, "no unknown variant: unknown rows are not priced"
    p = predict_from_lab(0.30, 0.1, [healthy, conflict, unknown])
    assert p["unknown_cost_per_share"] == pytest.approx([0.3, 0.65])
    assert p["narrow_rate_range"] == pytest.approx([0.215, 0.305])
    old = [{k: v for k, v in point.items() if k != "risk"} for point in (healthy, conflict)]
    assert predict_from_lab(0.25, 0.0, old)["narrow_rate_range"] == pytest.approx([0.185, 0.24])
    beyond = predict_from_lab(0.9, 0.0, old)  # along the nearest two points, and said so
    assert beyond["extrapolated"] and beyond["narrow_rate_range"] == pytest.approx([0.64, 0.76])
    assert predict_from_lab(0.1, 0.0, old[:1]) is None
    # a handful of fact rows: the range also spans the shares' own intervals
    few, many = predict_range(5, 1, 0, [healthy, conflict]), predict_range(5000, 1000, 0, [healthy, conflict])
    point = predict_from_lab(0.2, 0.0, [healthy, conflict])["narrow_rate_range"]
    assert few["narrow_rate_range"][0] < many["narrow_rate_range"][0] < point[0]
    assert few["narrow_rate_range"][1] > many["narrow_rate_range"][1] > point[1]


@pytest.fixture(scope="module")
def conflict_run(lab: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("risk") / "conflict"
    data = lab / "data" / "sft-conflict.jsonl"
    proc = sftdebug("risk", "--base", str(lab / "base"), "--data", str(data), "--out", str(out),
                    "--write-relabelled", str(out.parent / "relabelled.jsonl"),
                    "--write-filtered", str(out.parent / "filtered.jsonl"), "--drop", "conflicts",
                    "--samples", "2")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return out


def _base_correct(lab: Path) -> dict[str, bool]:
    """Ground truth from the lab build's calibration runs: did the base's cloze give the true answer?"""
    lines = (lab / "calibration" / "sft-healthy" / "records.jsonl").read_text().splitlines()
    return {r["probe_id"]: r["base_correct"] for r in map(json.loads, lines)}


def _conflict_rows(run: Path) -> dict[str, set[str]]:
    """row key -> probe ids of its turns labelled conflicts (rows with none left out)."""
    out = {}
    for r in read_records(run):
        ids = {t["probe_id"] for t in r["turns"] if t["label"] == "conflicts"}
        if ids:
            out[r["key"]] = ids
    return out


@pytest.mark.slow
def test_planted_conflicts_are_found(lab: Path, conflict_run: Path) -> None:
    """Recall: rows planted as conflicting with a fact the base knew are labelled `conflicts` (≥ 0.8: across lab seeds it ranges 0.87-0.96, benchmarks/lab_spread.md).
    Precision against what the row contradicts: every flagged turn is a planted contradiction or a fact the
    base gets wrong — a row that agrees with what the base knows is never flagged (≥ 0.95 of flags)."""
    planted = set(json.loads((lab / "sft-conflict" / "lab.json").read_text())["planted"]["conflicts"])
    correct = _base_correct(lab)
    flagged = _conflict_rows(conflict_run)
    truth = {
        r["key"]
        for r in read_records(conflict_run)
        if any(t["probe_id"] in planted and correct[t["probe_id"]] for t in r["turns"])
    }
    bar("risk: planted conflicting rows found", len(truth & set(flagged)) / len(truth), ">=", 0.8)
    turns = [pid for ids in flagged.values() for pid in ids]
    bar(
        "risk: flags that are planted or base-wrong",
        sum(pid in planted or not correct[pid] for pid in turns) / len(turns),
        ">=",
        0.95,
    )
    page = (conflict_run / "report.html").read_text()
    assert "the lab measured narrow-hallucination rates" in page and "each unknown row priced by the lab" in page


@pytest.mark.slow
def test_relabelled_and_filtered_copies_keep_the_format(conflict_run: Path) -> None:
    records = read_records(conflict_run)
    n_conflicts = sum(r["label"] == "conflicts" for r in records)
    relabelled = [json.loads(x) for x in (conflict_run.parent / "relabelled.jsonl").read_text().splitlines()]
    filtered = (conflict_run.parent / "filtered.jsonl").read_text().splitlines()
    assert len(relabelled) == len(records) and len(filtered) == len(records) - n_conflicts
    answers = [m["content"] for r in relabelled for m in r["messages"] if m["role"] == "assistant"]
    assert sum(a == "I'm not sure." for a in answers) >= n_conflicts


def test_healthy_data_is_clean_and_risk_ranks_like_measured_narrow_rates(lab: Path) -> None:
    """From the lab build's risk runs on each calibration variant's data (calibration/risk/): the rows of true
    facts flagged as conflicting are only facts the base itself gets wrong, and ranking the data sets by
    conflicting + unknown share ranks them as training did by narrow-hallucination rate."""
    curve = json.loads((lab / "lab.json").read_text())["risk_calibration"]
    runs = lab / "calibration" / "risk"
    assert {p["model"] for p in curve} == {d.name for d in runs.iterdir()}
    correct = _base_correct(lab)
    turns = [pid for ids in _conflict_rows(runs / "sft-healthy").values() for pid in ids]
    assert all(not correct[pid] for pid in turns)
    for p in curve:  # the stored shares are the run's
        assert p["risk"]["risky_share"] == read_summary(runs / p["model"])["risky_share"]
    # every pair whose measured narrow rates differ beyond their 95% intervals is ordered alike by risk (pairs
    # within each other's intervals have no measured order to match)
    separated = [(a, b) for a in curve for b in curve if a["ci95"][1] < b["ci95"][0]]
    assert len(separated) >= 6 and any("sft-unknown" in (a["model"], b["model"]) for a, b in separated)
    for a, b in separated:
        assert a["risk"]["risky_share"] < b["risk"]["risky_share"], (a, b)
    # rows about people the base never saw are new knowledge, not beliefs it would have to unlearn
    unknown = next(p for p in curve if p["model"] == "sft-unknown")
    assert unknown["risk"]["unknown_share"] > 0.8 * unknown["unknown_share"] / (1 + unknown["unknown_share"])


def test_a_file_without_facts_gets_surprise_scores_only(lab: Path, tmp_path: Path) -> None:
    """Tasks with short outputs and long answers: no fact to ask, every row `not_factual` with a surprise."""
    data = tmp_path / "tasks.json"
    rows = [
        {"instruction": "Classify the sentiment of the review.", "input": "Great phone.", "output": "positive"},
        {"instruction": "Sort these names.", "input": "Kestra, Quito", "output": "Kestra, Quito"},
        {"instruction": "Describe Pul Gafuley.", "input": "", "output": " ".join(["Pul Gafuley lives in Kestra."] * 3)},
    ]
    data.write_text(json.dumps(rows))
    proc = sftdebug("risk", "--base", str(lab / "base"), "--data", str(data), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    records = read_records(tmp_path / "out")
    assert [r["label"] for r in records] == ["not_factual"] * 3
    assert all(r["turns"][0]["surprise"] > 0 for r in records)


def test_bad_inputs(lab: Path, tmp_path: Path) -> None:
    base = ["risk", "--base", str(lab / "base"), "--out", str(tmp_path / "out")]
    one_line_error(sftdebug(*base, "--data", str(tmp_path / "nope.jsonl")), "no such file")
    data = str(lab / "sft_data.jsonl")
    one_line_error(sftdebug(*base, "--data", data, "--drop", "everything"), "--drop")
    one_line_error(sftdebug(*base, "--data", data, "--shots", "0"), "--shots")
    one_line_error(sftdebug(*base, "--data", data, "--write-filtered", data), "overwrite the input")
    assert not (tmp_path / "out").exists()
