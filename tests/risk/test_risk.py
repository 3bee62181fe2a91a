"""`sftdebug risk`: turn labels (table tests), the prediction from a lab curve, relabelled/filtered copies in the
input's own format, and on the lab: planted conflicts found, healthy data clean, risk ranking = narrow ranking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import one_line_error, sftdebug

from sftdebug.core.runs import read_records, read_summary
from sftdebug.data.formats import load_sft_file
from sftdebug.hallucination.probes import Probe
from sftdebug.risk.labels import exemplar_sets, label_turn, row_label, turns_of
from sftdebug.risk.summary import predict_from_lab

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


def test_lab_curve_prediction_is_a_range() -> None:
    curve = [
        {"risky_share": 0.0, "narrow_rate": 0.02, "ci95": [0.01, 0.04]},
        {"risky_share": 0.5, "narrow_rate": 0.4, "ci95": [0.36, 0.44]},
    ]
    p = predict_from_lab(0.25, curve)
    assert p["narrow_rate_range"] == pytest.approx([0.185, 0.24]) and not p["extrapolated"]
    assert predict_from_lab(0.9, curve)["extrapolated"] and predict_from_lab(0.1, curve[:1]) is None


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
    """Recall: rows planted as conflicting with a fact the base knew are labelled `conflicts` (≥ 0.9).
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
    assert len(truth & set(flagged)) / len(truth) >= 0.9
    turns = [pid for ids in flagged.values() for pid in ids]
    assert sum(pid in planted or not correct[pid] for pid in turns) / len(turns) >= 0.95


@pytest.mark.slow
def test_relabelled_and_filtered_copies_keep_the_format(conflict_run: Path) -> None:
    records = read_records(conflict_run)
    n_conflicts = sum(r["label"] == "conflicts" for r in records)
    relabelled = [json.loads(x) for x in (conflict_run.parent / "relabelled.jsonl").read_text().splitlines()]
    filtered = (conflict_run.parent / "filtered.jsonl").read_text().splitlines()
    assert len(relabelled) == len(records) and len(filtered) == len(records) - n_conflicts
    answers = [m["content"] for r in relabelled for m in r["messages"] if m["role"] == "assistant"]
    assert sum(a == "I'm not sure." for a in answers) >= n_conflicts


@pytest.mark.slow
def test_healthy_data_is_clean_and_risk_ranks_like_measured_narrow_rates(lab: Path, tmp_path: Path) -> None:
    curve = {p["model"]: p for p in json.loads((lab / "lab.json").read_text())["risk_calibration"]}
    risk = {}
    for name in ("sft-healthy", "sft-conflict-10", "sft-conflict-25", "sft-conflict", "sft-unknown"):
        out = tmp_path / name
        proc = sftdebug(
            "risk",
            "--base",
            str(lab / "base"),
            "--data",
            str(lab / "data" / f"{name}.jsonl"),
            "--out",
            str(out),
            "--samples",
            "4",
        )
        assert proc.returncode == 0, proc.stderr
        risk[name] = read_summary(out)["risky_share"]
        if name == "sft-healthy":  # true rows conflict only with what the base gets wrong
            correct = _base_correct(lab)
            turns = [pid for ids in _conflict_rows(out).values() for pid in ids]
            assert all(not correct[pid] for pid in turns)
    conflict = ["sft-healthy", "sft-conflict-10", "sft-conflict-25", "sft-conflict"]
    by_risk = sorted(conflict, key=risk.get)
    by_narrow = sorted(conflict, key=lambda n: curve[n]["narrow_rate"])
    assert by_risk == by_narrow, (risk, {n: curve[n]["narrow_rate"] for n in risk})
    # rows of new knowledge are found and do raise narrow hallucination, but less per row than conflicts, so
    # the unknown variant is not ranked by its risky share among the conflict variants (said in the report)
    assert risk["sft-unknown"] > risk["sft-healthy"] + 0.1
    assert curve["sft-unknown"]["narrow_rate"] > curve["sft-healthy"]["narrow_rate"]
    assert "the lab measured narrow-hallucination rates" in (tmp_path / "sft-conflict" / "report.html").read_text()


def test_bad_inputs(lab: Path, tmp_path: Path) -> None:
    base = ["risk", "--base", str(lab / "base"), "--out", str(tmp_path / "out")]
    one_line_error(sftdebug(*base, "--data", str(tmp_path / "nope.jsonl")), "no such file")
    data = str(lab / "sft_data.jsonl")
    one_line_error(sftdebug(*base, "--data", data, "--drop", "everything"), "--drop")
    one_line_error(sftdebug(*base, "--data", data, "--shots", "0"), "--shots")
    one_line_error(sftdebug(*base, "--data", data, "--write-filtered", data), "overwrite the input")
    assert not (tmp_path / "out").exists()
