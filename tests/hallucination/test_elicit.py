"""Few-shot elicitation of the base (elicit.py): which exemplars a probe gets, the screen, the mode auto takes."""

from __future__ import annotations

from sftdebug.facts.probes import Probe, continuation, statement
from sftdebug.hallucination.elicit import Elicitation, choose, screen_sample


def _capital(country: str, city: str, i: int, lang: str = "en") -> Probe:
    return Probe(
        id=f"cap-{i}",
        cloze=(f"The capital of {country} is",),
        question=(f"What is the capital of {country}?",),
        answer=city,
        subject=country,
        relation="capital",
        lang=lang,
    )


CAPITALS = [("France", "Paris"), ("Peru", "Lima"), ("Japan", "Tokyo"), ("Canada", "Ottawa"), ("Chile", "Santiago"),
            ("Kenya", "Nairobi"), ("Nepal", "Kathmandu")]  # fmt: skip
PROBES = [_capital(c, a, i) for i, (c, a) in enumerate(CAPITALS)]
AUTHOR = Probe(id="auth-0", cloze=("Faust was written by",), question=("Who wrote Faust?",), answer="Goethe",
               subject="Faust", relation="author")  # fmt: skip


def test_exemplars_are_other_facts_of_the_same_relation_and_never_the_probe() -> None:
    how = Elicitation([*PROBES, AUTHOR], shots=3)
    for p in PROBES:
        ex = how.exemplars(p)
        assert len(ex) == 3 and p not in ex and all(q.relation == "capital" for q in ex)
    # a relation with too few facts is filled from the same language's other relations
    assert [q.relation for q in how.exemplars(AUTHOR)] == ["capital"] * 3


def test_exemplars_never_give_away_the_answer_or_the_subject() -> None:
    twin = _capital("Canada", "Ottawa", 99)  # the same fact under another id
    paris = _capital("the French Republic", "Paris", 98)  # another subject with the same answer
    how = Elicitation([*PROBES, twin, paris], shots=6)
    ex = how.exemplars(PROBES[3])  # Canada
    assert twin not in ex and all("Ottawa" not in statement(q) for q in ex)
    assert paris not in how.exemplars(PROBES[0])  # France: Paris would be in the prompt


def test_known_facts_come_first_and_sets_rotate() -> None:
    known = frozenset({"cap-1", "cap-2", "cap-4"})
    how = Elicitation(PROBES, shots=3, known=known)
    first = how.exemplars(PROBES[0], 0)
    assert {q.id for q in first} == known
    seen = {tuple(q.id for q in how.exemplars(PROBES[0], s)) for s in range(4)}
    assert len(seen) > 1, "another exemplar set orders the known facts differently"
    assert how.exemplars(PROBES[0], 0) == first, "the same set every time (resumable runs ask the same)"


def test_prompt_is_solved_lines_then_the_open_cloze() -> None:
    how = Elicitation(PROBES, shots=2)
    lines = how.prompt(PROBES[3]).split("\n")
    assert len(lines) == 3 and lines[-1] == "The capital of Canada is"
    assert all(line.startswith("The capital of ") and not line.endswith(" is") for line in lines[:2])


def test_continuation_spacing_follows_the_script() -> None:
    assert continuation("The capital of Peru is", "Lima") == " Lima"
    assert continuation("秘鲁的首都是", "利马") == "利马"
    assert continuation("The answer: ", "Lima") == "Lima"


def test_screen_sample_is_seeded_and_skips_unanswerable() -> None:
    open_ended = Probe(id="open", cloze=("Something is",), question=("What?",))
    probes = [*PROBES, open_ended]
    a, b = screen_sample(probes, n=4), screen_sample(list(reversed(probes)), n=4)
    assert a == b and len(a) == 4 and open_ended not in a
    assert screen_sample(probes, n=4, seed=1) != a or len(PROBES) <= 4


def test_auto_takes_few_shot_only_when_it_answers_more() -> None:
    assert choose(10, 11) == "few-shot"
    assert choose(10, 10) == "zero-shot" and choose(12, 3) == "zero-shot"


def test_samples_are_spread_over_exemplar_sets(tmp_path) -> None:
    """Few-shot with --samples: sample j of a probe is asked after exemplar set j mod EXEMPLAR_SETS (Gekhman et al.
    sample over several sets), the greedy answer after set 0."""
    from fakes import FakeEngine

    from sftdebug.core.progress import no_progress
    from sftdebug.core.runs import Journal
    from sftdebug.hallucination.phases import EXEMPLAR_SETS, HallucinationSettings, run_base_phase

    asked: list[tuple[str, int]] = []

    class Recording(FakeEngine):
        def generate(self, requests):  # type: ignore[no-untyped-def]
            asked.extend((str(r.prompt), r.params.n) for r in requests if r.params.temperature > 0)
            return super().generate(requests)

    cfg = HallucinationSettings(base_prompt="few-shot", samples=EXEMPLAR_SETS, temperature=1.0)
    journal = Journal(tmp_path / "base.jsonl")
    run_base_phase(lambda: Recording({}), PROBES, cfg, journal, no_progress)
    journal.close()
    elicit = Elicitation(PROBES, cfg.shots)
    probe = PROBES[0]
    mine = [prompt for prompt, n in asked if prompt.endswith(probe.cloze[0])]
    assert all(n == 1 for _, n in asked)
    assert sorted(mine) == sorted(elicit.prompt(probe, j) for j in range(EXEMPLAR_SETS))
    assert len(set(mine)) > 1  # several sets, not one prompt sampled n times


def test_a_missed_fact_is_asked_after_each_other_exemplar_set_until_one_elicits_it(tmp_path) -> None:
    """Few-shot: a fact missed after exemplar set 0 is asked after sets 1, 2, 3 in turn, stopping at the first that
    elicits it (known, `second_set` says which); a fact no set elicits is asked after all of them."""
    from fakes import FakeEngine

    from sftdebug.core.progress import no_progress
    from sftdebug.core.runs import Journal
    from sftdebug.hallucination.phases import EXEMPLAR_SETS, HallucinationSettings, run_base_phase
    from sftdebug.hallucination.verdicts import base_knew

    cfg = HallucinationSettings(base_prompt="few-shot")
    elicit = Elicitation(PROBES, cfg.shots)
    lima, paris = PROBES[1], PROBES[0]
    answers = {elicit.prompt(lima, 2): " Lima"}  # only the third set brings Lima out; nothing brings Paris
    engine = FakeEngine(answers)
    journal = Journal(tmp_path / "base.jsonl")
    run_base_phase(lambda: engine, PROBES, cfg, journal, no_progress)
    journal.close()
    assert base_knew(journal.done[lima.id], lima) and journal.done[lima.id]["second_set"] == 2
    assert not base_knew(journal.done[paris.id], paris) and journal.done[paris.id]["second_set"] == EXEMPLAR_SETS - 1
