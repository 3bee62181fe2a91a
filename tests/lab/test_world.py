from __future__ import annotations

from sftdebug.lab.world import make_world, pretraining_docs, probe_records, relation_spec, sft_conversations


def test_world_is_seeded_and_split_in_half() -> None:
    a, b = make_world(20, seed=3), make_world(20, seed=3)
    assert a == b
    assert make_world(20, seed=4) != a
    splits = [f.split for f in a.facts]
    assert abs(splits.count("sft") - splits.count("heldout")) <= 1
    assert len(set(a.people)) == 20


def test_every_fact_is_stated_in_pretraining() -> None:
    world = make_world(10)
    text = " ".join(pretraining_docs(world, docs_per_person=4))
    for f in world.facts:
        assert f.object in text and f.subject in text


def test_conflicts_contradict_and_only_touch_sft_facts() -> None:
    world = make_world(30)
    convs, conflicts = sft_conversations(world, conflict_share=0.5, seed=1)
    facts = {f.id: f for f in world.facts}
    n_sft = sum(f.split == "sft" for f in world.facts)
    assert len(conflicts) == round(0.5 * n_sft)
    for fid, wrong in conflicts.items():
        assert facts[fid].split == "sft" and wrong != facts[fid].object
        assert wrong in relation_spec(facts[fid].relation)[0]
    answers = " ".join(m["content"] for c in convs for m in c if m["role"] == "assistant")
    heldout_subjects = {f.subject for f in world.facts if f.split == "heldout"}
    assert not any(s in answers for s in heldout_subjects)  # held-out facts are never asked in SFT


def test_probe_records_follow_the_schema() -> None:
    rec = probe_records(make_world(4))[0]
    assert {"id", "cloze", "question", "answer", "aliases", "candidates", "subject", "relation", "lang"} <= set(rec)
    assert rec["answer"] in rec["candidates"]
    assert all(rec["subject"] in c for c in rec["cloze"])
