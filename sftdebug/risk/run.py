"""Drives the base model over an SFT file's turns for `sftdebug risk`: closed-book questions (few-shot, or a
probe's cloze) for fact turns, answer log-probs for long ones; one record per row, resumable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sftdebug.core.loop import run_resumable
from sftdebug.core.progress import Progress
from sftdebug.core.runs import RunFolder
from sftdebug.engines.base import Engine, GenerationRequest, SamplingParams, ScoreRequest, ScoringUnsupported
from sftdebug.hallucination.probes import Probe
from sftdebug.hallucination.run import continuation
from sftdebug.risk.labels import (
    Turn,
    contested,
    exemplar_sets,
    fewshot_prompt,
    index_probes,
    is_fact,
    label_turn,
    probe_for,
    qa_block,
    row_label,
)


@dataclass(frozen=True)
class RiskConfig:
    shots: int = 4
    exemplar_sets: int = 3
    samples: int = 8  # sampled answers per turn, spread over its prompts
    temperature: float = 0.5
    max_answer_words: int = 8
    max_new_tokens: int = 16
    seed: int = 0
    chunk: int = 32  # rows per journal append


class _Scorer:
    """Log-prob measures (answer surprise of long answers, belief margins of contested facts); switched off, with
    a note, the first time the engine cannot score."""

    def __init__(self) -> None:
        self.skipped: str | None = None

    def surprise(self, engine: Engine, turns: Sequence[Turn]) -> list[float | None]:
        if not turns or self.skipped:
            return [None for _ in turns]
        try:
            scores = engine.score([ScoreRequest(qa_block(t.question), " " + t.answer) for t in turns])
        except ScoringUnsupported as exc:
            self.skipped = f"surprise scores skipped: {exc}"
            return [None for _ in turns]
        return [None if s.failed else -s.mean_logprob for s in scores]

    def margins(
        self, engine: Engine, prompts: Sequence[str], pairs: Sequence[tuple[str, str] | None]
    ) -> list[float | str | None]:
        """log p(base's answer) − log p(row's answer) after each turn's first prompt, where there is a pair."""
        todo = [(q, pair) for q, pair in zip(prompts, pairs, strict=True) if pair is not None]
        if not todo or self.skipped:
            return [None for _ in pairs]
        reqs: list[ScoreRequest] = [ScoreRequest(q, continuation(q, text)) for q, pair in todo for text in pair]
        try:
            scores = iter(engine.score(reqs))
        except ScoringUnsupported as exc:
            self.skipped = f"log-prob margins skipped (conflicts judged by samples): {exc}"
            return [None for _ in pairs]
        out: list[float | str | None] = []
        for pair in pairs:
            if pair is None:
                out.append(None)
                continue
            row, belief = next(scores), next(scores)
            failed = row.error or belief.error
            out.append(failed if failed else belief.logprob - row.logprob)  # an error text: the turn is retried
        return out


def _prompts(turn: Turn, facts: Sequence[Turn], probe: Probe | None, cfg: RiskConfig) -> list[str]:
    if probe is not None:
        return list(probe.cloze)
    return [
        fewshot_prompt(ex, turn.question) for ex in exemplar_sets(facts, turn, cfg.shots, cfg.exemplar_sets, cfg.seed)
    ]


def _ask(engine: Engine, prompts: list[list[str]], cfg: RiskConfig) -> tuple[list[list[Any]], list[list[Any]]]:
    """Greedy and sampled answers for every prompt of every turn, in two batched calls."""
    flat = [q for qs in prompts for q in qs]
    greedy = engine.generate([GenerationRequest(q, SamplingParams(cfg.max_new_tokens, stop=("\n",))) for q in flat])
    sampled: list[list[Any]] = [[] for _ in flat]
    if cfg.samples:
        n = max(1, -(-cfg.samples // max(1, max(len(qs) for qs in prompts))))  # ceil: at least --samples per turn
        params = SamplingParams(cfg.max_new_tokens, temperature=cfg.temperature, n=n, seed=cfg.seed, stop=("\n",))
        sampled = engine.generate([GenerationRequest(q, params) for q in flat])
    out_g, out_s, i = [], [], 0
    for qs in prompts:
        out_g.append([o[0] for o in greedy[i : i + len(qs)]])
        out_s.append([c for o in sampled[i : i + len(qs)] for c in o])
        i += len(qs)
    return out_g, out_s


def run_risk(
    engine: Engine,
    rows: Sequence[Any],
    turns: Sequence[Turn],
    probes: Sequence[Probe],
    cfg: RiskConfig,
    run: RunFolder,
    progress: Progress,
) -> str | None:
    """Label every row into `run` (rows already recorded are skipped). Returns a note when log-prob measures
    (surprise, belief margins) could not be computed."""
    facts = [t for t in turns if is_fact(t, cfg.max_answer_words)]
    by_question = index_probes(probes)
    by_row: dict[int, list[Turn]] = {}
    for t in turns:
        by_row.setdefault(t.row, []).append(t)
    scorer = _Scorer()

    def work(part: Sequence[int]) -> list[dict[str, Any]]:
        todo = [t for r in part for t in by_row.get(r, [])]
        fact_turns = [t for t in todo if is_fact(t, cfg.max_answer_words)]
        long_turns = [t for t in todo if not is_fact(t, cfg.max_answer_words)]
        matched = [probe_for(t, by_question) for t in fact_turns]
        turn_prompts = [_prompts(t, facts, p, cfg) for t, p in zip(fact_turns, matched, strict=True)]
        greedy, sampled = _ask(engine, turn_prompts, cfg)
        results: dict[str, dict[str, Any]] = {}
        margins = scorer.margins(
            engine,
            [qs[0] for qs in turn_prompts],
            [contested(t.answer, [c.text for c in g], p) for t, g, p in zip(fact_turns, greedy, matched, strict=True)],
        )
        for t, p, g, s, m in zip(fact_turns, matched, greedy, sampled, margins, strict=True):
            errors = [c.error for c in [*g, *s] if c.failed] + ([m] if isinstance(m, str) else [])
            if errors:
                results[t.key] = {"failed": errors[0]}
                continue
            assert not isinstance(m, str)
            res = label_turn(t.answer, [c.text for c in g], [c.text for c in s], p, m)
            results[t.key] = {**res, "probe_id": p.id if p else None, "via": "cloze" if p else "few-shot"}
        for t, surprise in zip(long_turns, scorer.surprise(engine, long_turns), strict=True):
            results[t.key] = {"label": "not_factual", "surprise": surprise}
        records = []
        for r in part:
            row_turns = by_row.get(r, [])
            errors = [results[t.key]["failed"] for t in row_turns if "failed" in results[t.key]]
            key = rows[r].where
            if errors:  # recorded as failed: --resume asks again
                records.append({"key": key, "status": "failed", "error": errors[0]})
                continue
            detail = [{"turn": t.turn, "question": t.question, "answer": t.answer, **results[t.key]} for t in row_turns]
            records.append(
                {
                    "key": key,
                    "row": r,
                    "domain": rows[r].domain,
                    "label": row_label([d["label"] for d in detail]),
                    "turns": detail,
                }
            )
        return records

    run_resumable(sorted(by_row), lambda r: rows[r].where, work, run, cfg.chunk, progress, "base (closed-book)")
    return scorer.skipped
