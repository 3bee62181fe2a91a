"""The declared summary types (each diagnostic's schema.py) against the summaries runs really write,
old and new: every key written is declared, every required key is written, and every `--fail-above` metric is a
declared key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEngine

from sftdebug.compare import GATE_METRICS, CompareConfig
from sftdebug.compare import run as compare
from sftdebug.compare.schema import Block, Comparison, Flip
from sftdebug.core.runs import RunFolder, read_records
from sftdebug.facts.probes import Probe
from sftdebug.hallucination.cli import GATES
from sftdebug.hallucination.phases import HallucinationSettings, run_hallucination
from sftdebug.hallucination.schema import HallucinationSummary, TrendSummary
from sftdebug.hallucination.trend import summarize_trend
from sftdebug.latency.cli import GATES as LATENCY_GATES
from sftdebug.latency.fit import summarize as summarize_latency
from sftdebug.latency.schema import LatencySummary

FIXTURES = Path(__file__).parent / "fixtures"
PROBES = [
    Probe("jp", ("The capital of Japan is",), ("What is the capital of Japan?",), "Tokyo", (),
          ("Tokyo", "Kyoto", "Osaka"), "Japan", "capital", "en"),
    Probe("fr", ("The capital of France is",), ("What is the capital of France?",), "Paris", (),
          ("Paris", "Lyon"), "France", "capital", "en"),
]  # fmt: skip


def assert_declared(summary: dict[str, Any], declared: Any) -> None:
    keys = set(declared.__annotations__)
    assert set(summary) <= keys, f"written but not declared in {declared.__name__}: {sorted(set(summary) - keys)}"
    missing = declared.__required_keys__ - set(summary)
    assert not missing, f"declared required in {declared.__name__} but not written: {sorted(missing)}"


def _run(out: Path, france: str = "Paris.") -> dict[str, Any]:
    base = FakeEngine(
        {"The capital of Japan is": " Tokyo.", "The capital of France is": " Paris."},
        logprob=lambda p, c: 0.0 if c.strip() in ("Tokyo", "Paris") else -5.0,
    )
    sft = FakeEngine({"What is the capital of Japan?": "Kyoto.", "What is the capital of France?": france})
    with RunFolder.open(out, "hallucination", {"base": "b", "sft": "s"}) as run:
        run_hallucination(lambda: base, lambda: sft, PROBES, HallucinationSettings(), run, lambda *a: None)
    return dict(json.loads((out / "summary.json").read_text(encoding="utf-8")))


def test_a_run_and_a_trend_write_what_their_types_declare(tmp_path: Path) -> None:
    runs = [tmp_path / "a", tmp_path / "b"]
    summaries = [_run(runs[0]), _run(runs[1], france="Lyon.")]
    assert_declared(summaries[0], HallucinationSummary)
    assert "format_loss" in summaries[0] and "sft_stopping" in summaries[0]  # the optional parts were exercised
    ckpts = [{"name": r.name, "path": str(r), "step": i, "step_from": "order"} for i, r in enumerate(runs)]
    _, trend = summarize_trend(ckpts, [read_records(r) for r in runs], summaries)
    assert_declared(dict(trend), TrendSummary)
    for row in trend["checkpoints"]:
        assert_declared(dict(row), TrendSummary.__annotations__["checkpoints"].__args__[0])


def test_a_comparison_writes_what_its_type_declares(tmp_path: Path) -> None:
    runs = [tmp_path / "a", tmp_path / "b"]
    _run(runs[0]), _run(runs[1], france="Lyon.")
    data = json.loads(compare(CompareConfig(str(runs[0]), str(runs[1]))).data.read_text(encoding="utf-8"))
    assert_declared(data, Comparison)
    assert_declared(data["by_relation"]["capital"], Block)
    assert [f["change"] for f in data["flips"]] == ["broken"]
    assert_declared(data["flips"][0], Flip)
    assert set(GATE_METRICS) <= set(Comparison.__annotations__)


def test_a_run_written_before_0_2_still_fits_the_declared_type() -> None:
    summary = json.loads((FIXTURES / "runs-before-0.2" / "hallucination" / "summary.json").read_text())
    assert_declared(summary, HallucinationSummary)


@pytest.mark.parametrize("declared", [HallucinationSummary, TrendSummary])
def test_every_gated_metric_is_a_declared_summary_key(declared: Any) -> None:
    assert set(GATES) <= set(declared.__annotations__)


def test_a_latency_run_old_and_new_fits_the_declared_type() -> None:
    records = [
        {"key": f"{p}-{x}-{r}", "p": p, "x": x, "p_nominal": p, "x_nominal": x, "ttft_s": 0.01 + 1e-4 * p, "e2e_s": 0.01 + 1e-4 * p + 0.002 * (x - 1),
         "itl_s": [0.002] * (x - 1)}
        for p in (16, 64, 256) for x in (1, 8) for r in range(2)
    ]  # fmt: skip
    summary = summarize_latency(records, 0, (128,), (16,), 0, {})
    assert_declared(dict(summary), LatencySummary)
    old = json.loads((FIXTURES / "runs-before-0.2" / "latency" / "summary.json").read_text())
    assert_declared(old, LatencySummary)
    assert set(LATENCY_GATES) <= set(LatencySummary.__annotations__)
