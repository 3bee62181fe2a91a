"""Driving the engines for `sftdebug hallucination`: base phase, SFT phase, then verdicts.

Each phase has its own resumable journal in the run folder (base.jsonl, sft.jsonl), so only one model is
in memory at a time (two 7B models need not fit together) and a killed run continues where it stopped.

    sftdebug hallucination --base reports/lab-test/base --sft reports/lab-test/sft-conflict
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sftdebug.engines.base import Engine, GenerationRequest, Message, SamplingParams, ScoreRequest
from sftdebug.hallucination import make_record, summarize
from sftdebug.probes import Probe
from sftdebug.store import Journal, RunFolder

Tick = Callable[[str, int, int, str], None]
SCORING_SKIPPED = "candidate ranking skipped"


@dataclass(frozen=True)
class HallucinationConfig:
    samples: int = 0  # sampled generations per phrasing (0: greedy only, no weakly_known category)
    temperature: float = 1.0
    base_max_new_tokens: int = 16
    sft_max_new_tokens: int = 64
    seed: int = 0
    system: str | None = None  # default system prompt for the SFT side (a probe's own `system` wins)
    chunk: int = 64  # probes per journal append: what a kill can lose at most


def continuation(cloze: str, candidate: str) -> str:
    """The candidate as the base would write it after the cloze: a space between words, none after CJK."""
    last = cloze[-1:]
    if not last or last.isspace() or unicodedata.east_asian_width(last) in ("W", "F"):
        return candidate
    return " " + candidate


def chat_prompt(probe: Probe, question: str, system: str | None) -> list[Message]:
    sys_text = probe.system if probe.system is not None else system
    msgs: list[Message] = [{"role": "system", "content": sys_text}] if sys_text else []
    return [*msgs, {"role": "user", "content": question}]


def _texts(outs: list[list[Any]], start: int, count: int) -> tuple[list[str], list[str]]:
    sel = [o[0] for o in outs[start : start + count]]
    return [c.text for c in sel], [c.finish_reason for c in sel]


def _side(
    engine: Engine,
    probes: Sequence[Probe],
    prompts: Callable[[Probe], list[Any]],
    max_new: int,
    cfg: HallucinationConfig,
    stop: tuple[str, ...],
) -> list[dict[str, Any]]:
    """Greedy (and sampled) outputs for every phrasing of every probe, in one batched call each."""
    per_probe = [prompts(p) for p in probes]
    flat = [q for qs in per_probe for q in qs]
    greedy = engine.generate([GenerationRequest(q, SamplingParams(max_new_tokens=max_new, stop=stop)) for q in flat])
    sampled: list[list[Any]] = []
    if cfg.samples:
        params = SamplingParams(
            max_new_tokens=max_new, temperature=cfg.temperature, n=cfg.samples, seed=cfg.seed, stop=stop
        )
        sampled = engine.generate([GenerationRequest(q, params) for q in flat])
    out, i = [], 0
    for p, qs in zip(probes, per_probe, strict=True):
        texts, finish = _texts(greedy, i, len(qs))
        side: dict[str, Any] = {"key": p.id, "greedy": texts, "finish": finish}
        if sampled:
            side["samples"] = [[c.text for c in s] for s in sampled[i : i + len(qs)]]
        errors = [c.error for o in [*greedy[i : i + len(qs)], *sampled[i : i + len(qs)]] for c in o if c.failed]
        if errors:  # recorded as failed: never judged, and retried by --resume
            side.update(status="failed", error=errors[0])
        out.append(side)
        i += len(qs)
    return out


def _candidate_logprobs(engine: Engine, probes: Sequence[Probe], notes: list[str]) -> list[dict[str, float]]:
    """Log-prob of each candidate after the first cloze; {} for all when the engine cannot score."""
    from sftdebug.engines.openai import ScoringUnsupported

    with_cands = [p for p in probes if p.candidates and p.answer is not None]
    reqs = [ScoreRequest(p.cloze[0], continuation(p.cloze[0], c)) for p in with_cands for c in p.candidates]
    if not reqs or any(n.startswith(SCORING_SKIPPED) for n in notes):
        return [{} for _ in probes]
    try:
        scores = iter(engine.score(reqs))
    except ScoringUnsupported as exc:
        notes.append(f"{SCORING_SKIPPED}: {exc}")
        return [{} for _ in probes]
    by_id = {p.id: {c: next(scores).logprob for c in p.candidates} for p in with_cands}
    return [by_id.get(p.id, {}) for p in probes]


def _run_phase(
    name: str,
    journal: Journal,
    probes: Sequence[Probe],
    open_engine: Callable[[], Engine],
    work: Callable[[Engine, Sequence[Probe]], list[dict[str, Any]]],
    chunk: int,
    tick: Tick,
) -> None:
    todo = [p for p in probes if not journal.is_done(p.id)]
    tick(name, len(probes) - len(todo), len(probes), "")
    if not todo:
        return
    engine = open_engine()
    try:
        for start in range(0, len(todo), chunk):
            journal.append(work(engine, todo[start : start + chunk]))
            tick(name, len(probes) - len(todo) + min(len(todo), start + chunk), len(probes), "")
    finally:
        engine.close()


def run_hallucination(
    open_base: Callable[[], Engine],
    open_sft: Callable[[], Engine],
    probes: Sequence[Probe],
    cfg: HallucinationConfig,
    run: RunFolder,
    tick: Tick,
) -> dict[str, Any]:
    """Run both phases (skipping what earlier runs recorded), write verdict records and the summary."""

    notes: list[str] = []

    def base_work(engine: Engine, chunk: Sequence[Probe]) -> list[dict[str, Any]]:
        sides = _side(engine, chunk, lambda p: list(p.cloze), cfg.base_max_new_tokens, cfg, stop=("\n",))
        for side, lps in zip(sides, _candidate_logprobs(engine, chunk, notes), strict=True):
            side["cand_logprobs"] = lps
        return sides

    def sft_work(engine: Engine, chunk: Sequence[Probe]) -> list[dict[str, Any]]:
        return _side(
            engine,
            chunk,
            lambda p: [chat_prompt(p, q, cfg.system) for q in p.question],
            cfg.sft_max_new_tokens,
            cfg,
            stop=(),
        )

    base_j, sft_j = run.journal("base"), run.journal("sft")
    _run_phase("base (cloze)", base_j, probes, open_base, base_work, cfg.chunk, tick)
    _run_phase("sft (chat)", sft_j, probes, open_sft, sft_work, cfg.chunk, tick)
    complete = [p for p in probes if p.id in base_j.done and p.id in sft_j.done]
    run.append(make_record(p, base_j.done[p.id], sft_j.done[p.id]) for p in complete if not run.is_done(p.id))
    summary = summarize([run.done[p.id] for p in complete])
    summary["n_failed"] = len(probes) - len(complete)
    if summary["n_failed"]:
        notes.append(f"{summary['n_failed']} probes failed (engine errors): rerun with --resume to retry them")
    summary["warnings"] += notes
    run.write_summary(summary)
    return summary
