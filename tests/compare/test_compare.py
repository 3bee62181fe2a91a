"""`sftdebug compare`: McNemar's exact test against hand-computed values, the paired counts, and the command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import one_line_error, sftdebug

from sftdebug.compare.paired import compare_runs
from sftdebug.core.errors import UsageError
from sftdebug.core.runs import RunFolder
from sftdebug.core.stats import mcnemar_exact


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [
        (0, 0, 1.0),
        (5, 5, 1.0),
        (0, 6, 2 / 64),  # 2 * C(6,0) / 2^6
        (1, 9, 2 * 11 / 1024),  # 2 * (C(10,0) + C(10,1)) / 2^10 = 0.0215
        (10, 3, 2 * 378 / 8192),  # 2 * (1 + 13 + 78 + 286) / 2^13 = 0.0923
        (2, 2, 1.0),  # the two-sided sum exceeds 1 and is capped
    ],
)
def test_mcnemar_exact_matches_hand_computed_values(b: int, c: int, p: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(p, rel=1e-12)


def test_mcnemar_exact_matches_scipy() -> None:
    from scipy import stats  # a dev dependency: the reference implementation

    for b in range(0, 25, 3):
        for c in range(0, 25, 4):
            if b + c:
                assert mcnemar_exact(b, c) == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue, rel=1e-9)


def _rec(pid: str, relation: str, base: bool, sft: bool, text: str = "x") -> dict[str, Any]:
    verdict = {(True, True): "kept", (True, False): "narrow_hallucination", (False, True): "gained"}.get(
        (base, sft), "never_known"
    )
    return {
        "key": pid, "probe_id": pid, "relation": relation, "answer": "a", "base_correct": base, "sft_correct": sft,
        "verdict": verdict, "sft_prompt": "q?", "sft_text": text,
    }  # fmt: skip


A = [_rec("1", "city", True, True), _rec("2", "city", True, True), _rec("3", "color", False, False)]
B = [_rec("1", "city", True, False, "<b>Lumen</b>"), _rec("2", "city", True, True), _rec("3", "color", False, True)]


def test_paired_counts_per_relation_and_flips() -> None:
    r = compare_runs(A, B)
    assert (r["fixed"], r["broken"], r["newly_narrow"], r["no_longer_narrow"]) == (1, 1, 1, 0)
    assert r["by_relation"]["city"]["broken"] == 1 and r["by_relation"]["color"]["fixed"] == 1
    assert r["sft_correct"]["p_value"] == 1.0
    assert {f["probe_id"]: f["change"] for f in r["flips"]} == {"1": "broken", "3": "fixed"}


def test_different_probe_sets_are_refused() -> None:
    with pytest.raises(UsageError, match=r"different facts .*1 only in the first"):
        compare_runs(A, B[:2])


def _run(folder: Path, records: list[dict[str, Any]], kind: str = "hallucination") -> str:
    with RunFolder.open(folder, kind, {"sft": folder.name}) as run:
        run.append(records)
        run.write_summary({"n_probes": len(records)})
    return str(folder)


def test_command_writes_page_and_data_and_gates(tmp_path: Path) -> None:
    a, b = _run(tmp_path / "a", A), _run(tmp_path / "b", B)
    proc = sftdebug("compare", a, b, "--out", str(tmp_path / "cmp" / "page.html"))
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "cmp" / "page.html").read_text()
    assert "&lt;b&gt;Lumen&lt;/b&gt;" in page and "<b>Lumen" not in page
    assert json.loads((tmp_path / "cmp" / "page.json").read_text())["broken"] == 1
    assert sftdebug("compare", a, b, "--fail-above", "broken=0").returncode == 3
    assert (Path(b) / "compare.html").is_file()
    assert sftdebug("compare", a, b, "--fail-above", "broken=1").returncode == 0


def test_command_refuses_in_one_line(tmp_path: Path) -> None:
    a, b = _run(tmp_path / "a", A), _run(tmp_path / "b", B[:2])
    one_line_error(sftdebug("compare", a, b), "different facts")
    gen = _run(tmp_path / "gen", [{"key": "1"}], kind="generate")
    one_line_error(sftdebug("compare", a, gen), "not a hallucination run")
    one_line_error(sftdebug("compare", a, a, "--fail-above", "narrow=1"), "not a gated metric")
    assert not (Path(b) / "compare.html").exists()


@pytest.mark.parametrize(
    ("summary", "needle"),
    [("[1, 2]\n", "expected a JSON object"), ('{"n_probes": ', "not valid JSON"), (None, "did not finish")],
    ids=["list", "torn", "missing"],
)
def test_a_run_without_a_readable_summary_is_refused(tmp_path: Path, summary: str | None, needle: str) -> None:
    """A summary.json that is a list, torn, or missing (an unfinished run) is not compared (rc 0 before)."""
    a, b = _run(tmp_path / "a", A), _run(tmp_path / "b", B)
    if summary is None:
        (Path(b) / "summary.json").unlink()
    else:
        (Path(b) / "summary.json").write_text(summary)
    one_line_error(sftdebug("compare", a, b), needle)
    assert not (Path(b) / "compare.html").exists() and not (Path(b) / "compare.json").exists()


@pytest.mark.parametrize("spec", ["broken=-1", "fixed=nan", "broken=inf", "broken"])
def test_a_gate_no_count_can_cross_is_refused(tmp_path: Path, spec: str) -> None:
    a, b = _run(tmp_path / "a", A), _run(tmp_path / "b", B)
    one_line_error(sftdebug("compare", a, b, "--fail-above", spec), "--fail-above")
    assert not (Path(b) / "compare.html").exists()
