"""Driving the engines for `sftdebug hallucination`: base phase, SFT phase, then verdicts.

Each phase has its own resumable journal in the run folder (base.jsonl, sft.jsonl), so only one model is
in memory at a time (two 7B models need not fit together) and a killed run continues where it stopped.

    sftdebug hallucination --base reports/lab-test/base --sft reports/lab-test/sft-conflict
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from sftdebug.core.loop import pending, run_resumable
from sftdebug.core.progress import Progress
from sftdebug.core.runs import Journal, RunFolder
from sftdebug.engines.base import Engine, GenerationRequest, Message, SamplingParams, ScoreRequest, ScoringUnsupported
from sftdebug.facts.probes import Probe, continuation
from sftdebug.hallucination.elicit import MODES, Elicitation, choose, screen_sample
from sftdebug.hallucination.recheck import (
    RECHECK_FACTOR,
    STOP_SHARE,
    recheck,
    recheck_budget,
    recheck_finishes,
    recheck_order,
    recheck_settled,
    recheck_sizes,
)
from sftdebug.hallucination.schema import HallucinationSummary, TrendSummary
from sftdebug.hallucination.verdicts import base_correct, base_knew, make_record, sft_correct, summarize, verdict


@dataclass(frozen=True)
class HallucinationSettings:
    samples: int = 0  # sampled generations per phrasing (0: greedy only, no weakly_known category)
    temperature: float = 1.0
    base_max_new_tokens: int = 16
    sft_max_new_tokens: int = 64
    seed: int = 0
    system: str | None = None  # default system prompt for the SFT side (a probe's own `system` wins)
    chunk: int = 64  # probes per journal append: what a kill can lose at most
    eos_recheck: int = 32  # at most this many answers cut at the budget given 4x the budget: long, or no stop?
    recheck_batch: int = 8  # ... first this many, then doubled until the share that stops is clear (recheck.py)
    base_prompt: str = "auto"  # how the base is asked: zero-shot, few-shot, or auto (elicit.py)
    shots: int = 3  # exemplars per few-shot prompt

    def __post_init__(self) -> None:
        if self.base_prompt not in MODES:
            raise ValueError(f"base_prompt must be one of {', '.join(MODES)}, not {self.base_prompt!r}")


EXEMPLAR_SETS = 4  # few-shot: a missed fact is asked after each set in turn; sample j after set j mod this
ELICITATION_KEY = "#elicitation"  # the base journal's record of how the base was asked (shared with its runs)


def chat_prompt(probe: Probe, question: str, system: str | None) -> list[Message]:
    sys_text = probe.system if probe.system is not None else system
    msgs: list[Message] = [{"role": "system", "content": sys_text}] if sys_text else []
    return [*msgs, {"role": "user", "content": question}]


def _texts(outs: list[list[Any]], start: int, count: int) -> tuple[list[str], list[str]]:
    sel = [o[0] for o in outs[start : start + count]]
    return [c.text for c in sel], [c.finish_reason for c in sel]


def _cut_ids(outs: list[list[Any]], start: int) -> list[int] | None:
    """The token ids of the first phrasing's greedy answer when it was cut at the budget (the eos recheck continues
    it from them), else None."""
    first = outs[start][0]
    return list(first.token_ids) if first.finish_reason == "length" and first.token_ids else None


def _side(
    engine: Engine,
    probes: Sequence[Probe],
    prompts: Callable[[Probe], list[Any]],
    max_new: int,
    cfg: HallucinationSettings,
    stop: tuple[str, ...],
    keep_cut: bool = False,
    sample_prompts: Callable[[Probe, int], list[Any]] | None = None,
) -> list[dict[str, Any]]:
    """Greedy (and sampled) outputs for every phrasing of every probe, in one batched call each (`keep_cut`: with
    the token ids of a first answer cut at the budget, as `cut_ids`). `sample_prompts(p, j)`: sample j of every
    phrasing asked with its own prompts (few-shot: another exemplar set), instead of all samples of one prompt."""
    per_probe = [prompts(p) for p in probes]
    flat = [q for qs in per_probe for q in qs]
    greedy = engine.generate([GenerationRequest(q, SamplingParams(max_new_tokens=max_new, stop=stop)) for q in flat])
    sampled: list[list[Any]] = []
    if cfg.samples and sample_prompts is None:
        params = SamplingParams(
            max_new_tokens=max_new, temperature=cfg.temperature, n=cfg.samples, seed=cfg.seed, stop=stop
        )
        sampled = engine.generate([GenerationRequest(q, params) for q in flat])
    elif cfg.samples and sample_prompts is not None:
        per_sample = []
        for j in range(cfg.samples):  # one request per sample and phrasing, n=1; regrouped as n samples each
            params = SamplingParams(max_new_tokens=max_new, temperature=cfg.temperature, seed=cfg.seed + j, stop=stop)
            asked = [q for p in probes for q in sample_prompts(p, j)]
            per_sample.append(engine.generate([GenerationRequest(q, params) for q in asked]))
        sampled = [[c for outs in per_sample for c in outs[k]] for k in range(len(flat))]
    out, i = [], 0
    for p, qs in zip(probes, per_probe, strict=True):
        texts, finish = _texts(greedy, i, len(qs))
        side: dict[str, Any] = {"key": p.id, "greedy": texts, "finish": finish}
        cut = _cut_ids(greedy, i) if keep_cut else None
        if cut is not None:
            side["cut_ids"] = cut
        if sampled:
            side["samples"] = [[c.text for c in s] for s in sampled[i : i + len(qs)]]
        errors = [c.error for o in [*greedy[i : i + len(qs)], *sampled[i : i + len(qs)]] for c in o if c.failed]
        if errors:  # recorded as failed: never judged, and retried by --resume
            side.update(status="failed", error=errors[0])
        out.append(side)
        i += len(qs)
    return out


class _Scoring:
    """Candidate ranking for one phase, switched off for the rest of the run (with a note) the first time the
    engine says it cannot score."""

    def __init__(self, what: str = "candidate ranking") -> None:
        self.what = what
        self.skipped: str | None = None

    def logprobs(
        self,
        engine: Engine,
        probes: Sequence[Probe],
        prompt: Callable[[Probe], str | list[Message]] = lambda p: p.cloze[0],  # text, or chat
        text: Callable[[Probe, str], str] = lambda p, c: continuation(p.cloze[0], c),
    ) -> list[dict[str, float] | str]:
        """Log-prob of each candidate's `text` after the probe's `prompt` (by default: the candidate after the
        first cloze as the base is asked it; {} when the engine cannot score), or the error of a probe whose
        scoring requests failed after retries."""
        with_cands = [p for p in probes if p.candidates and p.answer is not None]
        reqs = [ScoreRequest(prompt(p), text(p, c)) for p in with_cands for c in p.candidates]
        if not reqs or self.skipped is not None:
            return [{} for _ in probes]
        try:
            scores = iter(engine.score(reqs))
        except ScoringUnsupported as exc:
            self.skipped = f"{self.what} skipped: {exc}"
            return [{} for _ in probes]
        by_id: dict[str, dict[str, float] | str] = {}
        for p in with_cands:
            got = [next(scores) for _ in p.candidates]
            failed = next((s.error for s in got if s.error is not None), None)
            by_id[p.id] = (
                failed if failed is not None else {c: s.logprob for c, s in zip(p.candidates, got, strict=True)}
            )
        return [by_id.get(p.id, {}) for p in probes]


def _with_logprobs(sides: list[dict[str, Any]], logprobs: list[dict[str, float] | str]) -> list[dict[str, Any]]:
    """Each side's candidate log-probs as `cand_logprobs`; a probe whose scoring failed after retries is recorded
    failed (--resume retries it)."""
    for side, lps in zip(sides, logprobs, strict=True):
        if isinstance(lps, str):
            side.setdefault("status", "failed")
            side.setdefault("error", lps)
        else:
            side["cand_logprobs"] = lps
    return sides


def sft_answer_logprobs(
    scoring: _Scoring, engine: Engine, probes: Sequence[Probe], system: str | None
) -> list[dict[str, float] | str]:
    """The SFT model's log-likelihood of each candidate as its answer to the first question, through its chat
    template: the reply scored is the fact's sentence (the first cloze) completed by the candidate, right after
    the generation prompt ("<|im_start|>assistant\\n" + "The capital of Japan is Tokyo"). The sentence prefix is
    the same for every candidate, so the ranking is the candidates' after it. Not the bare candidate after the
    header: chat models answer in sentences ("The capital of Japan is Tokyo.", the lab's "Pul Gafuley lives in
    Kestra."), so a reply that starts with the candidate is text they would not write, and its ranking follows
    word frequency more than the fact (ranked so, the lab's conflict model agreed with its own answers on 45% of
    200 facts, against 83% for the sentence; SmolLM2-135M-Instruct on 55% and 58% of 60)."""
    return scoring.logprobs(
        engine,
        probes,
        lambda p: chat_prompt(p, p.question[0], system),
        lambda p, c: p.cloze[0] + continuation(p.cloze[0], c),
    )


class _Model:
    """One model, loaded on first use and kept for every phase that needs it (the SFT model answers, continues
    clozes and rechecks stopping in one load); `close` frees it before the next model is loaded."""

    def __init__(self, open_engine: Callable[[], Engine]) -> None:
        self._open = open_engine
        self._engine: Engine | None = None

    def get(self) -> Engine:
        engine = self._engine
        if engine is None:
            engine = self._engine = self._open()
        return engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


def run_phase(
    task: str,
    journal: Journal,
    probes: Sequence[Probe],
    model: _Model,
    work: Callable[[Engine, Sequence[Probe]], list[dict[str, Any]]],
    chunk: int,
    progress: Progress,
) -> None:
    """One model over every probe not yet in `journal`; the model is loaded only when there is work."""
    if not pending(probes, _probe_key, journal):
        progress(task, len(probes), len(probes), "")
        return
    engine = model.get()
    run_resumable(probes, _probe_key, lambda part: work(engine, part), journal, chunk, progress, task)


def _probe_key(p: Probe) -> str:
    return p.id


def _lost(p: Probe, base: dict[str, Any] | None, sft: dict[str, Any] | None) -> bool:
    """A narrow hallucination (by the verdict rules): worth asking the SFT model the cloze."""
    if base is None or sft is None:
        return False
    b, s = base["greedy"][0], sft["greedy"][0]
    return verdict(p, p.answer is not None and base_knew(base, p), sft_correct(s, p), b, s) == "narrow_hallucination"


def run_base_phase(
    open_base: Callable[[], Engine],
    probes: Sequence[Probe],
    cfg: HallucinationSettings,
    journal: Journal,
    progress: Progress,
    scoring: _Scoring | None = None,
) -> dict[str, Any]:
    """The base phase alone: every probe not yet in `journal`, asked the way the journal records (decided on
    its first run: elicit.py), with candidate ranking. Returns how the base was asked. Nothing is loaded when
    the journal is complete (a trend, a training callback or `watch` share one base phase this way)."""
    scoring = scoring or _Scoring()
    base = _Model(open_base)
    try:
        how = _elicitation(base, journal, probes, cfg)
        elicit = Elicitation(probes, how["shots"], frozenset(how["known"])) if how["mode"] == "few-shot" else None

        def base_prompts(p: Probe, set_index: int = 0) -> list[str]:
            texts = _phrasings(p.cloze, cfg)
            return texts if elicit is None else [elicit.prompt(p, set_index, c) for c in texts]

        def sample_prompts(p: Probe, j: int) -> list[str]:
            return base_prompts(p, j % EXEMPLAR_SETS)  # Gekhman et al.: samples over several exemplar sets

        def base_work(engine: Engine, chunk: Sequence[Probe]) -> list[dict[str, Any]]:
            sides = _side(
                engine,
                chunk,
                base_prompts,
                cfg.base_max_new_tokens,
                cfg,
                stop=("\n",),
                sample_prompts=sample_prompts if elicit is not None else None,
            )
            if elicit is not None:
                for p, side in zip(chunk, sides, strict=True):
                    side["exemplars"] = [q.id for q in elicit.exemplars(p)]
                _other_sets(engine, chunk, sides, elicit, cfg)
            return _with_logprobs(sides, scoring.logprobs(engine, chunk, lambda p: base_prompts(p)[0]))

        run_phase(f"base ({how['mode']} cloze)", journal, probes, base, base_work, cfg.chunk, progress)
    finally:
        base.close()
    return how


def _phrasings(texts: tuple[str, ...], cfg: HallucinationSettings) -> list[str]:
    # The first phrasing decides the verdict; the others only feed knowledge categories, which need
    # --samples: without it they would cost one generation each for nothing in the summary.
    return list(texts) if cfg.samples else list(texts[:1])


def run_hallucination(
    open_base: Callable[[], Engine],
    open_sft: Callable[[], Engine],
    probes: Sequence[Probe],
    cfg: HallucinationSettings,
    run: RunFolder,
    progress: Progress,
    base_journal: Journal | None = None,
) -> HallucinationSummary:
    """Run both phases (skipping what earlier runs recorded), write verdict records and the summary.
    `base_journal` lets several runs against one base share its phase (e.g. every setting of an overfit sweep)."""
    scoring, sft_scoring = _Scoring(), _Scoring("SFT candidate ranking")

    def sft_work(engine: Engine, chunk: Sequence[Probe]) -> list[dict[str, Any]]:
        prompts = lambda p: [chat_prompt(p, q, cfg.system) for q in _phrasings(p.question, cfg)]  # noqa: E731
        sides = _side(engine, chunk, prompts, cfg.sft_max_new_tokens, cfg, stop=(), keep_cut=True)
        return _with_logprobs(sides, sft_answer_logprobs(sft_scoring, engine, chunk, cfg.system))

    def cloze_work(engine: Engine, chunk: Sequence[Probe]) -> list[dict[str, Any]]:
        return _side(engine, chunk, lambda p: [p.cloze[0]], cfg.base_max_new_tokens, greedy_only, stop=("\n",))

    def recheck_work(engine: Engine, chunk: Sequence[Probe]) -> list[dict[str, Any]]:
        prompts = [chat_prompt(p, p.question[0], cfg.system) for p in chunk]
        budget = recheck_budget(engine, prompts, RECHECK_FACTOR * cfg.sft_max_new_tokens)
        return recheck(engine, chunk, prompts, sft_j.done, budget, cfg.sft_max_new_tokens)

    greedy_only = replace(cfg, samples=0)
    base_j, sft_j, eos_j = base_journal or run.journal("base"), run.journal("sft"), run.journal("eos")
    cloze_j = run.journal("sft_cloze")
    how = run_base_phase(open_base, probes, cfg, base_j, progress, scoring)
    sft = _Model(open_sft)
    try:
        run_phase("sft (chat)", sft_j, probes, sft, sft_work, cfg.chunk, progress)
        lost = [p for p in probes if _lost(p, base_j.done.get(p.id), sft_j.done.get(p.id))]
        lost_ids = {p.id for p in lost}
        run_phase("sft (cloze, lost facts)", cloze_j, lost, sft, cloze_work, cfg.chunk, progress)
        capped = recheck_order([p for p in probes if p.id in sft_j.done and sft_j.done[p.id]["finish"][0] == "length"])
        sample: list[Probe] = []
        for size in recheck_sizes(len(capped), cfg.recheck_batch, cfg.eos_recheck):  # sequential: stop once clear
            sample = capped[:size]
            run_phase("sft eos recheck", eos_j, sample, sft, recheck_work, cfg.chunk, progress)
            if recheck_settled(recheck_finishes(eos_j.done, sample)):
                break
    finally:
        sft.close()
    # a lost fact whose cloze failed is not complete either: --resume retries it
    complete = [
        p
        for p in probes
        if p.id in base_j.done and p.id in sft_j.done and (p.id not in lost_ids or p.id in cloze_j.done)
    ]
    run.append(
        make_record(p, base_j.done[p.id], sft_j.done[p.id], cloze_j.done.get(p.id))
        for p in complete
        if not run.is_done(p.id)
    )
    retried = set().union(*(j.retried() for j in (base_j, sft_j, cloze_j)))
    summary = finish_summary(
        [run.done[p.id] for p in complete],
        recheck_finishes(eos_j.done, sample),
        cfg,
        how,
        n_failed=len(probes) - len(complete),
        n_retried=sum(p.id in retried for p in complete),  # complete only after a retry
        notes=[s.skipped for s in (scoring, sft_scoring) if s.skipped],
    )
    run.write_summary(summary)
    return summary


def finish_summary(
    records: Sequence[dict[str, Any]],
    rechecks: Sequence[str],
    cfg: HallucinationSettings,
    how: dict[str, Any],
    *,
    n_failed: int,
    n_retried: int,
    notes: Sequence[str],
) -> HallucinationSummary:
    """A run's summary from its verdict records and eos rechecks, with how the run went (its base elicitation,
    failures, retries, notes not made from records): an unsharded run's, and the merge of its shards'."""
    summary = summarize(records, rechecks=rechecks)
    if rechecks:  # the sequential rule that sized the sample, and whether its interval cleared the line
        summary["sft_stopping"]["recheck_rule"] = {
            "batch": cfg.recheck_batch,
            "most": cfg.eos_recheck,
            "threshold": STOP_SHARE,
            "settled": recheck_settled(rechecks),
        }
    summary["base_elicitation"] = {
        "requested": how["requested"],
        "mode": how["mode"],
        "shots": how["shots"],
        "screen": how["screen"],
    }
    summary["n_failed"] = n_failed
    summary["n_retried"] = n_retried
    summary["warnings"] += list(dict.fromkeys(notes))
    if n_failed:
        summary["warnings"].append(
            f"{n_failed} probes still failed after the retry rounds (engine errors): rerun with --resume to retry them"
        )
    return summary


def _elicitation(base: _Model, journal: Journal, probes: Sequence[Probe], cfg: HallucinationSettings) -> dict[str, Any]:
    """How the base is asked, decided once per base journal (so a resumed or shared base phase asks the same
    way): zero-shot as requested, or after a screen of a seeded sample asked both ways (elicit.py)."""
    if ELICITATION_KEY in journal.done:
        return journal.done[ELICITATION_KEY]
    how: dict[str, Any] = {"key": ELICITATION_KEY, "requested": cfg.base_prompt, "shots": cfg.shots, "known": []}
    sample = screen_sample(probes) if cfg.base_prompt != "zero-shot" else []
    if not sample:
        how.update(mode="zero-shot" if cfg.base_prompt != "few-shot" else "few-shot", screen=None)
        journal.append([how])
        return how
    engine = base.get()
    greedy = SamplingParams(max_new_tokens=cfg.base_max_new_tokens, stop=("\n",))
    zero = engine.generate([GenerationRequest(p.cloze[0], greedy) for p in sample])
    known = [p.id for p, o in zip(sample, zero, strict=True) if not o[0].failed and base_correct(o[0].text, p)]
    elicit = Elicitation(probes, cfg.shots, frozenset(known))
    few = engine.generate([GenerationRequest(elicit.prompt(p), greedy) for p in sample])
    few_right = sum(not o[0].failed and base_correct(o[0].text, p) for p, o in zip(sample, few, strict=True))
    mode = choose(len(known), few_right) if cfg.base_prompt == "auto" else "few-shot"
    how.update(
        mode=mode, known=known, screen={"n": len(sample), "zero_shot_right": len(known), "few_shot_right": few_right}
    )
    journal.append([how])
    return how


def _other_sets(
    engine: Engine,
    probes: Sequence[Probe],
    sides: list[dict[str, Any]],
    elicit: Elicitation,
    cfg: HallucinationSettings,
) -> None:
    """Facts the base missed with the first exemplar set, asked again with each of the other EXEMPLAR_SETS - 1
    sets in turn until one elicits the answer (Gekhman et al.: known when any exemplar set elicits it greedily).
    The side's `second` is the answer of the set that elicited it (`second_set`: which), else of the last set."""
    missed = [
        (p, side)
        for p, side in zip(probes, sides, strict=True)
        if p.answer is not None and "status" not in side and not base_correct(side["greedy"][0], p)
    ]
    greedy = SamplingParams(max_new_tokens=cfg.base_max_new_tokens, stop=("\n",))
    for set_index in range(1, EXEMPLAR_SETS):
        if not missed:
            return
        outs = engine.generate([GenerationRequest(elicit.prompt(p, set_index), greedy) for p, _ in missed])
        still = []
        for (p, side), out in zip(missed, outs, strict=True):
            if out[0].failed:
                side.update(status="failed", error=out[0].error)
                continue
            side["second"], side["second_set"] = out[0].text, set_index
            if not base_correct(out[0].text, p):
                still.append((p, side))
        missed = still


def run_trend(
    open_base: Callable[[], Engine],
    open_sft: Callable[[str], Engine],
    probes: Sequence[Probe],
    cfg: HallucinationSettings,
    top: RunFolder,
    checkpoints: Sequence[dict[str, Any]],
    open_checkpoint_run: Callable[[dict[str, Any]], RunFolder],
    progress: Progress,
) -> TrendSummary:
    """Every checkpoint as its own hallucination run (a subfolder, resumable) against one base phase, run
    once into `top`'s base journal; then the per-fact histories and the trend summary into `top`."""
    from sftdebug.core.runs import read_records
    from sftdebug.hallucination.trend import summarize_trend

    base_journal = top.journal("base")
    records, summaries = [], []
    for ckpt in checkpoints:
        with open_checkpoint_run(ckpt) as run:
            summaries.append(
                run_hallucination(open_base, partial(open_sft, ckpt["path"]), probes, cfg, run, progress, base_journal)
            )
            records.append(read_records(run.path))
    facts, summary = summarize_trend(checkpoints, records, summaries)
    top.append(f for f in facts if not top.is_done(f["key"]))
    top.write_summary(summary)
    return summary
