"""Narrow hallucination, fact by fact: does the SFT model get wrong what its base model knew?

The base model continues each probe's cloze ("Pul Gafuley lives in"); the SFT model answers its question
("Where does Pul Gafuley live?") through its own chat template. Verdicts, judged on the first phrasing:

    kept                  base right, SFT right
    narrow_hallucination  base right, SFT wrong   (SFT lost or overwrote the fact)
    gained                base wrong, SFT right
    never_known           base wrong, SFT wrong   (broad hallucination: not caused by SFT)
    agree / disagree      probes without an answer: does the SFT answer repeat the base's claim?

With samples, each side also gets a knowledge category in the style of Gekhman et al. (2024):
highly_known (greedy right in every phrasing), maybe_known (in some), weakly_known (greedy never, sampling
sometimes), unknown. Everything here is pure: engines are driven by `hallucination_run`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from sftdebug.core.stats import mean, wilson
from sftdebug.facts.match import contains_answer, first_answer, first_claim, normalize
from sftdebug.facts.probes import Probe
from sftdebug.hallucination.schema import (
    Example,
    HallucinationSummary,
    Headline,
    LossSplit,
    RankAgreement,
    SFTRankAgreement,
    Stopping,
)

CATEGORIES = ("highly_known", "maybe_known", "weakly_known", "unknown")
VERDICTS = ("kept", "narrow_hallucination", "gained", "never_known", "agree", "disagree")
LOW_EOS_RATE = 0.9
LOSS_KINDS = ("format_loss", "knowledge_loss")


def subject_names(probe: Probe) -> tuple[str, ...]:
    """The probe's subject as an answer may be written inside it ("the Czech Republic", "Czech Republic"): a
    candidate within a mention of the subject is not a claim ("the Czech Republic" does not answer "Czech")."""
    subject = probe.subject.strip()
    bare = re.sub(r"^the\s+", "", subject, flags=re.IGNORECASE)
    return tuple(dict.fromkeys(s for s in (subject, bare) if s))


def base_correct(text: str, probe: Probe) -> bool:
    """The base continuation's first claim (up to its first clause mark) must name the answer or an alias,
    before any other candidate: " Tokyo. Pul Gafuley works" and " the German writer Johann Wolfgang von Goethe"
    are right, " a city that is full of history" and " Lumen, not Kestra" are not."""
    names = (*probe.candidates, *probe.answers)
    named = first_answer(first_claim(text, names, clauses=True), names, subject_names(probe))
    return named is not None and normalize(named) in {normalize(a) for a in probe.answers}


def base_knew(base: dict[str, Any], probe: Probe) -> bool:
    """Did the base know the fact: its first greedy answer is right, or (few-shot) its answer after another
    exemplar set is (Gekhman et al.: known when any exemplar set elicits it; phases.py asks up to four)."""
    if base_correct(base["greedy"][0], probe):
        return True
    return "second" in base and base_correct(base["second"], probe)


def sft_correct(text: str, probe: Probe) -> bool:
    """The SFT answer's first claim (its first sentence) must name the answer: " Lumen. X lives in Kestra."
    is wrong however the rest goes on, "The capital of Japan is Tokyo." is right. With candidates, the first
    candidate the claim names decides ("Paris, not Tokyo" answers Paris)."""
    names = (*probe.candidates, *probe.answers)
    claim, subject = first_claim(text, names), subject_names(probe)
    if probe.candidates:
        named = first_answer(claim, names, subject)
        if named is not None:
            return normalize(named) in {normalize(a) for a in probe.answers}
    return contains_answer(claim, probe.answers, subject)


def category(greedy_right: Sequence[bool], sample_right: Sequence[Sequence[bool]] = ()) -> str:
    if greedy_right and all(greedy_right):
        return "highly_known"
    if any(greedy_right):
        return "maybe_known"
    if any(any(s) for s in sample_right):
        return "weakly_known"
    return "unknown"


def base_claim(text: str) -> str:
    """What the base continuation asserts: its text up to the first sentence or clause mark."""
    return first_claim(text, clauses=True)


def verdict(probe: Probe, base_ok: bool, sft_ok: bool, base_text: str, sft_text: str) -> str:
    if probe.answer is None:
        claim = base_claim(base_text)
        return "agree" if claim and contains_answer(sft_text, [claim]) else "disagree"
    if base_ok:
        return "kept" if sft_ok else "narrow_hallucination"
    return "gained" if sft_ok else "never_known"


def make_record(
    probe: Probe, base: dict[str, Any], sft: dict[str, Any], sft_cloze: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Join one probe's base-side and SFT-side outputs into its verdict record. `sft_cloze`: the SFT model
    continuing the base's cloze without its chat template, asked for narrow hallucinations only."""
    has_answer = probe.answer is not None
    base_right = [base_correct(t, probe) for t in base["greedy"]] if has_answer else []
    sft_right = [sft_correct(t, probe) for t in sft["greedy"]] if has_answer else []
    base_samples = [[base_correct(t, probe) for t in s] for s in base.get("samples", [])] if has_answer else []
    sft_samples = [[sft_correct(t, probe) for t in s] for s in sft.get("samples", [])] if has_answer else []
    b_ok, s_ok = has_answer and base_knew(base, probe), bool(sft_right and sft_right[0])
    rec: dict[str, Any] = {
        "key": probe.id,
        "probe_id": probe.id,
        "relation": probe.relation,
        "lang": probe.lang,
        "subject": probe.subject,
        "split": probe.split,
        "answer": probe.answer,
        "base_prompt": probe.cloze[0],
        "base_text": base["greedy"][0],
        **(
            {"base_second_text": base["second"], "base_second_set": base.get("second_set", 1)}
            if "second" in base
            else {}
        ),
        **({"base_exemplars": base["exemplars"]} if "exemplars" in base else {}),
        "base_correct": b_ok,
        "base_correct_phrasings": base_right,
        "sft_prompt": probe.question[0],
        "sft_text": sft["greedy"][0],
        "sft_correct": s_ok,
        "sft_correct_phrasings": sft_right,
        "sft_stopped": sft["finish"][0] == "stop",
        "sft_finish_reason": sft["finish"][0],
        "verdict": verdict(probe, b_ok, s_ok, base["greedy"][0], sft["greedy"][0]),
    }
    if has_answer:
        rec["base_category"] = category(base_right, base_samples)
        rec["sft_category"] = category(sft_right, sft_samples)
    if base_samples:
        rec["base_sample_accuracy"] = mean([x for s in base_samples for x in s])
        rec["sft_sample_accuracy"] = mean([x for s in sft_samples for x in s])
    if base.get("cand_logprobs") and has_answer:
        rec.update(answer_rank(base["cand_logprobs"], probe))
    if sft.get("cand_logprobs") and has_answer:  # beside the verdict, never in it
        rec.update(sft_answer_rank(sft["cand_logprobs"], probe))
    if sft_cloze is not None and rec["verdict"] == "narrow_hallucination":
        rec["sft_cloze_text"] = sft_cloze["greedy"][0]
        rec["loss_kind"] = loss_kind(sft_cloze["greedy"][0], probe)
    return rec


def loss_kind(sft_cloze_text: str, probe: Probe) -> str:
    """format_loss: the SFT model still completes the fact as a cloze, only its chat answer lost it (the
    "spurious forgetting" of alignment); knowledge_loss: it no longer completes it either."""
    return "format_loss" if base_correct(sft_cloze_text, probe) else "knowledge_loss"


def answer_rank(logprobs: dict[str, float], probe: Probe) -> dict[str, Any]:
    """Rank (1 = most likely) of the best-scored gold form among the candidates, by summed log-prob."""
    gold = {normalize(a) for a in probe.answers}
    order = sorted(logprobs, key=lambda c: -logprobs[c])
    rank = next(i for i, c in enumerate(order, 1) if normalize(c) in gold)
    return {"answer_rank": rank, "n_candidates": len(order), "top_candidate": order[0]}


def sft_answer_rank(logprobs: dict[str, float], probe: Probe) -> dict[str, Any]:
    """The SFT side's `answer_rank`: where the SFT model ranks the answer as its reply, and what it ranks first."""
    rank = answer_rank(logprobs, probe)
    return {
        "sft_answer_rank": rank["answer_rank"],
        "sft_rank_first": rank["answer_rank"] == 1,
        "sft_top_candidate": rank["top_candidate"],
    }


def _group(records: Sequence[dict[str, Any]], field: str) -> dict[str, Headline]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r.get(field) is not None:
            groups.setdefault(str(r[field]), []).append(r)
    return {k: _headline(v) for k, v in sorted(groups.items())}


def _headline(records: Sequence[dict[str, Any]]) -> Headline:
    answered = [r for r in records if r["answer"] is not None]
    known = [r for r in answered if r["base_correct"]]
    narrow = sum(r["verdict"] == "narrow_hallucination" for r in known)
    ci = wilson(narrow, len(known))
    head: Headline = {
        "n": len(records),
        "base_known": len(known),
        "narrow": narrow,
        "narrow_hallucination_rate": narrow / len(known) if known else None,
        "ci95": list(ci) if ci else None,
        "base_accuracy": mean([r["base_correct"] for r in answered]),
        "sft_accuracy": mean([r["sft_correct"] for r in answered]),
    }
    if any("loss_kind" in r for r in known):  # runs before 0.3 have no format check
        n_format, n_knowledge = (sum(r.get("loss_kind") == kind for r in known) for kind in LOSS_KINDS)
        head["format_loss"], head["format_loss_rate"] = n_format, n_format / len(known)
        head["knowledge_loss"], head["knowledge_loss_rate"] = n_knowledge, n_knowledge / len(known)
    return head


def _loss_split(head: Headline) -> LossSplit:
    """The format / knowledge loss figures of a headline, when it has them."""
    if "format_loss" not in head:
        return {}
    return {
        "format_loss": head["format_loss"],
        "format_loss_rate": head["format_loss_rate"],
        "knowledge_loss": head["knowledge_loss"],
        "knowledge_loss_rate": head["knowledge_loss_rate"],
    }


def stopping(records: Sequence[dict[str, Any]], rechecks: Sequence[str] = (), factor: int = 4) -> Stopping:
    """How the SFT model stops. Answers cut at --max-new-tokens are either long answers or a model that never
    stops; `rechecks` (finish reasons of a sample of them regenerated with `factor` × the budget) tell which."""
    out: Stopping = {"n_cut_at_budget": sum(r["sft_finish_reason"] == "length" for r in records)}
    if rechecks:
        stopped = sum(f == "stop" for f in rechecks)
        out["recheck_budget_factor"] = factor
        out["n_rechecked"] = len(rechecks)
        out["recheck_stop_rate"] = stopped / len(rechecks)
        out["recheck_stop_ci95"] = list(wilson(stopped, len(rechecks)) or ())
    return out


def summarize(
    records: Sequence[dict[str, Any]], n_examples: int = 5, rechecks: Sequence[str] = ()
) -> HallucinationSummary:
    """The run's summary.json content (its shape: schema.py). `rechecks`: see `stopping`."""
    head = _headline(records)
    stopped = sum(r["sft_stopped"] for r in records)
    eos_rate, eos_ci = mean([r["sft_stopped"] for r in records]), wilson(stopped, len(records))
    stops = stopping(records, rechecks)
    counts = Counter(r["verdict"] for r in records)
    summary: HallucinationSummary = {
        "n_probes": len(records),
        "base_known": head["base_known"],
        # the four fact verdicts always (zeros too); agree/disagree only when answer-less probes exist
        "counts": {v: counts.get(v, 0) for v in VERDICTS if v in VERDICTS[:4] or counts.get(v)},
        "narrow_hallucination_rate": head["narrow_hallucination_rate"],
        "narrow_hallucination_ci95": head["ci95"],
        **_loss_split(head),
        "base_accuracy": head["base_accuracy"],
        "sft_accuracy": head["sft_accuracy"],
        "sft_eos_rate": eos_rate,
        "sft_eos_ci95": list(eos_ci) if eos_ci else None,
        "sft_stopping": stops,
        "by_relation": _group(records, "relation"),
        "by_lang": _group(records, "lang"),
        "examples": [_example(r) for r in records if r["verdict"] == "narrow_hallucination"][:n_examples],
        "warnings": warnings(head, eos_rate, len(records), stops),
    }
    if any(r.get("split") for r in records):
        summary["by_split"] = _group(records, "split")
    ranks = [r["answer_rank"] for r in records if "answer_rank" in r]
    if ranks:
        summary["base_answer_rank"] = {"mean": sum(ranks) / len(ranks), "rank1_rate": mean([x == 1 for x in ranks])}
        summary["base_rank_agreement"] = rank_agreement(records)
    if any("sft_answer_rank" in r for r in records):
        summary["sft_rank_agreement"] = sft_rank_agreement(records)
    if any("base_sample_accuracy" in r for r in records):
        summary["category_transitions"] = transitions(records)
    return summary


def _example(r: dict[str, Any]) -> Example:
    return {
        "probe_id": r["probe_id"],
        "answer": r["answer"],
        "base_prompt": r["base_prompt"],
        "base_text": r["base_text"],
        "sft_prompt": r["sft_prompt"],
        "sft_text": r["sft_text"],
    }


def rank_agreement(records: Sequence[dict[str, Any]]) -> RankAgreement:
    """The base's generation verdict against its candidate ranking, fact by fact: the two agree when the base
    answers a fact exactly when it ranks the answer first. Facts known by one and not the other are listed."""
    n, agreement, gen_only, rank_only = _agreement(records, "answer_rank", "base_correct")
    return {
        "n": n,
        "agreement": agreement,
        "generated_not_ranked_first": gen_only,
        "ranked_first_not_generated": rank_only,
    }


def sft_rank_agreement(records: Sequence[dict[str, Any]]) -> SFTRankAgreement:
    """The SFT judge (its greedy chat answer, `sft_correct`) against its log-probability judgement (the answer
    ranked first as its reply), fact by fact; the facts where they part are listed both ways."""
    n, agreement, answered_only, rank_only = _agreement(records, "sft_answer_rank", "sft_correct")
    return {
        "n": n,
        "agreement": agreement,
        "answered_not_ranked_first": answered_only,
        "ranked_first_not_answered": rank_only,
    }


def _agreement(records: Sequence[dict[str, Any]], rank: str, right: str) -> tuple[int, float, list[str], list[str]]:
    ranked = [r for r in records if rank in r]
    right_only = [r["probe_id"] for r in ranked if r[right] and r[rank] != 1]
    rank_only = [r["probe_id"] for r in ranked if not r[right] and r[rank] == 1]
    return len(ranked), 1 - (len(right_only) + len(rank_only)) / len(ranked), right_only, rank_only


def transitions(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """base category -> SFT category -> count, every cell present (zeros included)."""
    matrix = {b: dict.fromkeys(CATEGORIES, 0) for b in CATEGORIES}
    for r in records:
        if "base_category" in r:
            matrix[r["base_category"]][r["sft_category"]] += 1
    return matrix


def warnings(head: Headline, eos_rate: float | None, n: int, stops: Mapping[str, Any] | None = None) -> list[str]:
    out = []
    stops = stops or {}
    recheck = stops.get("recheck_stop_rate")
    if eos_rate is not None and eos_rate < LOW_EOS_RATE and recheck is not None and recheck >= 0.5:
        out.append(
            f"{1 - eos_rate:.0%} of the SFT answers were cut at the --max-new-tokens budget while still answering, "
            f"but {recheck:.0%} of a sample of them ({stops['n_rechecked']}) ended with eos given up to "
            f"{stops['recheck_budget_factor']}x the budget: the model can stop; its answers are long (raise "
            "--max-new-tokens to judge them whole)."
        )
    elif eos_rate is not None and eos_rate < LOW_EOS_RATE:
        longer = (
            ""
            if recheck is None
            else f" (given up to {stops['recheck_budget_factor']}x the budget, {recheck:.0%} of a sample stopped)"
        )
        out.append(
            f"the SFT model ended only {eos_rate:.0%} of its answers with eos{longer}: it cannot stop. Check that "
            "eos / end-of-turn was inside the SFT loss mask and that the chat template matches training."
        )
    if head["base_accuracy"] is not None and head["base_known"] < max(5, 0.05 * n):
        out.append(
            f"the base model knew only {head['base_known']} of {n} facts: the narrow-hallucination rate rests on "
            "too few facts (use probes this base model knows)."
        )
    return out
