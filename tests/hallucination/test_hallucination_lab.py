"""`sftdebug hallucination` on the test lab, against ground truth checked independently."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import bar, sftdebug

from sftdebug.core.runs import RunFolder
from sftdebug.engines import GenerationRequest, SamplingParams
from sftdebug.facts.probes import load_probes
from sftdebug.hallucination.phases import HallucinationSettings, chat_prompt, run_hallucination
from sftdebug.hallucination.recheck import RECHECK_FACTOR, recheck_order

# its module-scoped runs are built once: the whole module on one pytest-xdist worker
pytestmark = [pytest.mark.xdist_group("hallucination-lab"), pytest.mark.slow]  # three 500-probe runs on organisms


class Shared:
    """Lends a session-wide engine to a run without letting the run close it."""

    def __init__(self, engine) -> None:
        self.engine = engine

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def results(lab: Path, engines: dict, tmp_path_factory) -> dict[str, dict]:
    probes = load_probes(lab / "probes.jsonl")
    out = {}
    for name in ("sft-healthy", "sft-conflict", "sft-undertrained"):
        d = tmp_path_factory.mktemp(name)
        with RunFolder.open(d, "hallucination", {"base": "base", "sft": name}) as run:
            summary = run_hallucination(
                lambda: Shared(engines["base"]),
                lambda n=name: Shared(engines[n]),
                probes,
                HallucinationSettings(),
                run,
                lambda *a: None,
            )
            out[name] = {"summary": summary, "records": run.records(), "path": d}
    return out


def _first_named(text: str, candidates: list[str]) -> str | None:
    m = re.search(r"\b(" + "|".join(map(re.escape, sorted(candidates, key=len, reverse=True))) + r")\b", text)
    return m.group(1) if m else None


def test_flagged_set_matches_an_independent_greedy_check(lab: Path, probes: list[dict], results: dict) -> None:
    """transformers' own generate(), one prompt at a time, judged by a separate regex: same narrow set."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    def greedy(folder: Path, prompts: list[str], n: int) -> list[str]:
        tok = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder).eval()
        texts = []
        with torch.inference_mode():
            for p in prompts:
                ids = tok(p, return_tensors="pt", add_special_tokens=False)
                gen = model.generate(**ids, max_new_tokens=n, do_sample=False, pad_token_id=tok.pad_token_id)
                texts.append(tok.decode(gen[0, ids["input_ids"].shape[1] :], skip_special_tokens=True))
        return texts

    sft_dir = lab / "sft-conflict"
    sft_tok = AutoTokenizer.from_pretrained(sft_dir)
    chats = [
        sft_tok.apply_chat_template(
            [{"role": "user", "content": p["question"][0]}], tokenize=False, add_generation_prompt=True
        )
        for p in probes
    ]
    base_texts = greedy(lab / "base", [p["cloze"][0] for p in probes], 6)
    sft_texts = greedy(sft_dir, chats, 24)
    expected = {
        p["id"]
        for p, b, s in zip(probes, base_texts, sft_texts, strict=True)
        if _first_named(re.split(r"[.,;\n]", b)[0], p["candidates"]) == p["answer"]  # the base's first clause
        and _first_named(s, p["candidates"]) != p["answer"]
    }
    flagged = {r["probe_id"] for r in results["sft-conflict"]["records"] if r["verdict"] == "narrow_hallucination"}
    assert len(flagged) > 50
    assert flagged == expected


def test_conflict_sft_hallucinates_far_more_than_healthy(results: dict) -> None:
    healthy = results["sft-healthy"]["summary"]["narrow_hallucination_rate"]
    conflict = results["sft-conflict"]["summary"]["narrow_hallucination_rate"]
    assert conflict > 2 * healthy, (healthy, conflict)
    lo_conflict = results["sft-conflict"]["summary"]["narrow_hallucination_ci95"][0]
    hi_healthy = results["sft-healthy"]["summary"]["narrow_hallucination_ci95"][1]
    assert lo_conflict > hi_healthy, "the intervals must separate"


def test_planted_conflicts_are_flagged(lab: Path, results: dict) -> None:
    planted = json.loads((lab / "sft-conflict" / "lab.json").read_text())["planted"]["conflicts"]
    recs = {r["probe_id"]: r for r in results["sft-conflict"]["records"]}
    known = [fid for fid in planted if recs[fid]["base_correct"]]
    flagged = [fid for fid in known if recs[fid]["verdict"] == "narrow_hallucination"]
    bar("hallucination: planted conflicts flagged", len(flagged) / len(known), ">=", 0.85)


def test_conflict_sft_ranks_the_answer_first_where_it_answers_it(results: dict) -> None:
    """The log-probability judgement of the SFT model (the fact's sentence completed by each candidate, as its
    reply) agrees with its answers on most facts; the rest are listed both ways."""
    agree = results["sft-conflict"]["summary"]["sft_rank_agreement"]
    recs = results["sft-conflict"]["records"]
    assert agree["n"] == sum(r["answer"] is not None for r in recs)
    bar("hallucination: SFT ranking agrees with the SFT answer", agree["agreement"], ">=", 0.7)
    by_id = {r["probe_id"]: r for r in recs}
    assert all(by_id[i]["sft_correct"] and not by_id[i]["sft_rank_first"] for i in agree["answered_not_ranked_first"])
    assert all(not by_id[i]["sft_correct"] and by_id[i]["sft_rank_first"] for i in agree["ranked_first_not_answered"])


def test_undertrained_is_reported_as_unable_to_stop(results: dict) -> None:
    s = results["sft-undertrained"]["summary"]
    assert s["sft_eos_rate"] < 0.3
    assert any("cannot stop" in w for w in s["warnings"])
    assert results["sft-healthy"]["summary"]["warnings"] == []


def _journal(path: Path, name: str) -> dict[str, dict]:
    lines = (path / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["key"]: r for r in map(json.loads, lines)}


def test_continued_recheck_concludes_as_a_full_regeneration(lab: Path, engines: dict, results: dict) -> None:
    """The eos recheck continues cut answers from their token ids, and only as many as its interval needs; the old
    one regenerated up to 32 from scratch. Same finish per answer, same conclusion ("cannot stop" or "long
    answers"), and the sequential interval lies on the side of 0.5 where the full sample's estimate is. (The lab's
    other organisms stop within the budget; the "long answers" side is SmolLM2's, measured in benchmarks/.)"""
    name = "sft-undertrained"
    probes = {p.id: p for p in load_probes(lab / "probes.jsonl")}
    path, summary = results[name]["path"], results[name]["summary"]
    sft, eos = _journal(path, "sft"), _journal(path, "eos")
    cfg = HallucinationSettings()
    capped = recheck_order([probes[k] for k, side in sft.items() if side["finish"][0] == "length"])[: cfg.eos_recheck]
    assert len(capped) == cfg.eos_recheck, "the undertrained organism runs on: the old recheck took 32"
    assert eos and set(eos) <= {p.id for p in capped}, "the recheck samples a prefix of the same seeded order"
    assert {r["budget"] for r in eos.values()} <= set(
        range(cfg.sft_max_new_tokens + 1, RECHECK_FACTOR * cfg.sft_max_new_tokens + 1)
    )
    # the old way: every answer of the old sample (32) regenerated whole, with the budget the recheck had (the lab's
    # context is 256 positions: 4x64 tokens do not always fit) or, beyond the sequential sample, the smallest
    budget = {p.id: eos[p.id]["budget"] if p.id in eos else min(r["budget"] for r in eos.values()) for p in capped}
    reqs = [GenerationRequest(chat_prompt(p, p.question[0], None), SamplingParams(budget[p.id])) for p in capped]
    full = {p.id: o[0] for p, o in zip(capped, engines[name].generate(reqs), strict=True)}
    for key, rec in eos.items():
        assert (rec["finish"], rec["tokens"]) == (full[key].finish_reason, full[key].completion_tokens), key
        assert rec["tail"] == (sft[key]["greedy"][0] + full[key].text)[-80:]
    stops = summary["sft_stopping"]
    full_rate = sum(c.finish_reason == "stop" for c in full.values()) / len(full)
    assert (stops["recheck_stop_rate"] >= 0.5) == (full_rate >= 0.5)
    lo, hi = stops["recheck_stop_ci95"]
    if stops["recheck_rule"]["settled"]:
        assert (lo > 0.5) == (full_rate >= 0.5) and (hi < 0.5) == (full_rate < 0.5)
    assert hi < 0.5 and stops["recheck_rule"]["settled"], stops
    assert stops["n_rechecked"] < len(capped), "a clear case needs fewer than the old 32"


@pytest.mark.slow
def test_cli_gate_csv_and_report(lab: Path, tmp_path: Path) -> None:
    out, csv = tmp_path / "run", tmp_path / "facts.csv"
    args = [
        "hallucination",
        "--base",
        str(lab / "base"),
        "--sft",
        str(lab / "sft-conflict"),
        "--out",
        str(out),
        "--limit",
        "60",
        "--csv",
        str(csv),
        "--fail-above",
        "narrow_hallucination_rate=0.1",
    ]
    proc = sftdebug(*args)
    assert proc.returncode == 3, proc.stderr
    assert "gate failed: narrow_hallucination_rate" in proc.stderr
    assert "narrow-hallucination rate" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_probes"] == 60 and {"counts", "by_relation", "sft_eos_rate", "base_known"} <= set(summary)
    # auto screened both ways; the organisms were trained on bare clozes, so zero-shot answers more
    assert summary["base_elicitation"]["requested"] == "auto" and summary["base_elicitation"]["mode"] == "zero-shot"
    assert csv.read_text().count("\n") == 61
    assert "narrow_hallucination" in (out / "report.html").read_text()
    rec = json.loads((out / "records.jsonl").read_text().splitlines()[0])
    assert {"probe_id", "verdict", "base_text", "sft_text", "base_correct", "sft_correct", "sft_stopped"} <= set(rec)
    again = sftdebug(*args[:-2], "--resume", "--fail-above", "narrow_hallucination_rate=0.99")
    assert again.returncode == 0, again.stderr


def test_bad_gate_is_a_usage_error(lab: Path, tmp_path: Path) -> None:
    proc = sftdebug(
        "hallucination",
        "--base",
        str(lab / "base"),
        "--sft",
        str(lab / "sft-healthy"),
        "--out",
        str(tmp_path),
        "--fail-above",
        "narrow=abc",
    )
    assert proc.returncode == 2 and "METRIC=NUMBER" in proc.stderr


def test_samples_give_knowledge_categories(lab: Path, engines: dict, tmp_path: Path) -> None:
    probes = load_probes(lab / "probes.jsonl")[:30]
    with RunFolder.open(tmp_path, "hallucination", {"base": "base", "sft": "sft-conflict"}) as run:
        s = run_hallucination(
            lambda: Shared(engines["base"]),
            lambda: Shared(engines["sft-conflict"]),
            probes,
            HallucinationSettings(samples=3, temperature=1.0),
            run,
            lambda *a: None,
        )
        records = run.records()
    matrix = s["category_transitions"]
    assert sum(sum(row.values()) for row in matrix.values()) == 30
    assert matrix["highly_known"]["highly_known"] + matrix["maybe_known"]["maybe_known"] > 0
    for r in records:  # greedy right in every phrasing is highly known; never, and never sampled, unknown
        if all(r["base_correct_phrasings"]):
            assert r["base_category"] == "highly_known"
        assert 0.0 <= r["base_sample_accuracy"] <= 1.0
