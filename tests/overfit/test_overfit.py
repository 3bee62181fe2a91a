"""Special-token facts: the pieces (derangement, exposure, judging, embedding movement) and one tiny run."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from sftdebug.overfit.canary import derangement, eval_items, exposure, make_facts, rank_of, states_fact, train_rows


@pytest.mark.parametrize("n", [2, 3, 7, 50])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_derangement_is_a_permutation_without_fixed_points(n: int, seed: int) -> None:
    perm = derangement(n, random.Random(seed))
    assert sorted(perm) == list(range(n)) and all(i != p for i, p in enumerate(perm))


def test_derangement_needs_two() -> None:
    with pytest.raises(ValueError):
        derangement(1, random.Random(0))


@pytest.mark.parametrize(
    ("rank", "n", "bits"), [(1, 16, 4.0), (16, 16, 0.0), (4, 16, 2.0), (1, 50, 5.643856189774724), (2, 2, 0.0)]
)
def test_exposure_by_hand(rank: int, n: int, bits: float) -> None:
    assert exposure(rank, n) == pytest.approx(bits)


def test_rank_counts_only_strictly_better_candidates() -> None:
    assert rank_of("b", {"a": -1.0, "b": -2.0, "c": -2.0, "d": -5.0}) == 2
    assert rank_of("a", {"a": -1.0, "b": -2.0}) == 1


def test_facts_reverse_answers_are_unique_and_controls_never_trained() -> None:
    facts = make_facts(20, ("likes", "mentors"), control_share=0.25, seed=3)
    objects = [f.object for f in facts]
    assert len(set(objects)) == 20 and all(f.subject != f.object for f in facts)
    trained_ids = {r["fact_id"] for r in train_rows(facts, repeats=2)}
    controls = {f.id for f in facts if not f.trained}
    assert len(controls) == 5 and not trained_ids & controls
    items = eval_items(facts)
    forms = [it.form for it in items]
    assert forms.count("trained") == forms.count("paraphrase") == forms.count("reverse") == 15
    assert forms.count("control") == 5
    rev = [it for it in items if it.form == "reverse"]
    assert all(it.answer != it.about for it in rev)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" <sft_ent_0> likes <sft_ent_10>.", True),
        ("<sft_ent_0>  likes <sft_ent_10>", True),
        (" <sft_ent_10> likes <sft_ent_13>.", False),  # names the right entity, states another fact
        (" <sft_ent_0> likes <sft_ent_1>.", False),
        (" <sft_ent_0> likes <sft_ent_100>.", False),
        ("", False),
    ],
)
def test_states_fact(text: str, expected: bool) -> None:
    assert states_fact(text, "<sft_ent_0> likes <sft_ent_10>.") is expected


def test_embedding_rows_moved_only_when_trained(lab: Path) -> None:
    from sftdebug.overfit.embeddings import embedding_movement, mean_rows
    from sftdebug.training import TrainConfig, load_for_sft, sft_example, train_sft

    facts = make_facts(6, seed=0)
    ents = sorted({f.subject for f in facts})
    rows = [r["messages"] for r in train_rows(facts)]
    base = mean_rows(load_for_sft(str(lab / "base"))[0])

    def trained(freeze: bool):
        model, tok = load_for_sft(str(lab / "base"), ents)
        if freeze:  # the silent bug: embeddings frozen, so the new rows never learn
            model.get_input_embeddings().weight.requires_grad_(False)
        train_sft(
            model,
            [sft_example(tok, m) for m in rows],
            TrainConfig(steps=5, lr=1e-2, batch_size=4),
            pad_id=int(tok.pad_token_id),
        )
        return embedding_movement(model, tok, ents, base)

    model, tok = load_for_sft(str(lab / "base"), ents)
    untouched = embedding_movement(model, tok, ents, base)
    assert not untouched["moved"] and untouched["input_rel_change_mean"] < 1e-6
    assert trained(freeze=False)["moved"]
    frozen = trained(freeze=True)
    assert not frozen["moved"] and frozen["tied"]


@pytest.mark.slow
@pytest.mark.xdist_group("vllm")  # shares tiny_sweep with the vLLM tests: built once, on one worker
def test_tiny_dose_response_run(tiny_sweep: Path) -> None:
    out = tiny_sweep
    settings = json.loads((out / "summary.json").read_text())["settings"]
    low, high = sorted(settings, key=lambda s: s["epochs"])
    assert high["recall_trained"] > low["recall_trained"] and high["recall_trained"] >= 0.8
    assert high["recall_control"] == 0.0
    assert high["exposure_mean"] > high["exposure_control"]
    assert high["narrow_hallucination_rate"] is not None and high["ppl_ratio"] > 1.0
    sub = json.loads((out / "e25-lr0.003" / "summary.json").read_text())
    assert sub["epochs"] == 25 and sub["lr"] == 0.003
    assert {"trained", "paraphrase", "reverse", "control"} <= set(sub["recall"])
    assert "mean" in sub["exposure"] and "ppl_ratio" in sub["collateral"]
    assert (out / "report.html").is_file() and (out / "e25-lr0.003" / "report.html").is_file()
    assert (out / "collateral-base" / "base-phase.jsonl").is_file(), "the base side is computed once per sweep"
    assert not (out / "e25-lr0.003" / "collateral" / "base.jsonl").exists()
