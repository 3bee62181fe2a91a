"""Drives the base model over an SFT file's turns for `sftdebug risk`: closed-book questions (few-shot, or a
probe's cloze) for fact turns, answer log-probs for long ones; one record per row, resumable. `assess` is the whole
measurement into an open run folder (rows labelled, summary written): the library call and the lab's risk
calibration both use it."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sftdebug.core.loop import run_resumable
from sftdebug.core.progress import Progress
from sftdebug.core.runs import RunFolder, read_records
from sftdebug.engines.base import Engine, GenerationRequest, SamplingParams, ScoreRequest, ScoringUnsupported
from sftdebug.facts.probes import Probe, continuation
from sftdebug.risk.labels import (
    Contest,
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
    same,
    turns_of,
)
from sftdebug.risk.summary import summarize
from sftdebug.sftdata.formats import SFTData


@dataclass(frozen=True)
class RiskSettings:
    shots: int = 4
    exemplar_sets: int = 3
    samples: int = 8  # sampled answers per turn, spread over its prompts
    temperature: float = 0.5
    max_answer_words: int = 8
    max_new_tokens: int = 16
    seed: int = 0
    chunk: int = 32  # rows per journal append
    screen: int = 32  # fact rows asked first to find exemplars the base agrees with (`screen_exemplars`)


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
        self, engine: Engine, prompts: Sequence[Sequence[str]], contests: Sequence[Contest | None]
    ) -> list[float | str | None]:
        """log p(base's answer) − log p(row's answer), averaged over each contested turn's prompts."""
        todo = [(q, c) for qs, c in zip(prompts, contests, strict=True) if c is not None for q in qs]
        if not todo or self.skipped:
            return [None for _ in contests]
        reqs: list[ScoreRequest] = []
        for q, c in todo:
            context = q + continuation(q, c.prefix) if c.prefix else q
            reqs += [ScoreRequest(context, continuation(context, text)) for text in (c.row, c.belief)]
        try:
            scores = iter(engine.score(reqs))
        except ScoringUnsupported as exc:
            self.skipped = f"log-prob margins skipped (conflicts judged by samples): {exc}"
            return [None for _ in contests]
        out: list[float | str | None] = []
        for qs, contest in zip(prompts, contests, strict=True):
            if contest is None:
                out.append(None)
                continue
            pairs = [(next(scores), next(scores)) for _ in qs]
            failed = next((s.error for pair in pairs for s in pair if s.error), None)
            # an error text: the turn is retried
            out.append(failed if failed else sum(b.logprob - r.logprob for r, b in pairs) / len(pairs))
        return out


def _prompts(turn: Turn, facts: Sequence[Turn], probe: Probe | None, cfg: RiskSettings) -> list[str]:
    if probe is not None:
        return list(probe.cloze)
    return [
        fewshot_prompt(ex, turn.question) for ex in exemplar_sets(facts, turn, cfg.shots, cfg.exemplar_sets, cfg.seed)
    ]


def _ask(engine: Engine, prompts: list[list[str]], cfg: RiskSettings) -> tuple[list[list[Any]], list[list[Any]]]:
    """Greedy and sampled answers for every prompt of every turn, in two batched calls."""
    if not prompts:  # a chunk of rows without a fact
        return [], []
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


def screen_exemplars(engine: Engine, facts: Sequence[Turn], cfg: RiskSettings) -> tuple[list[Turn], dict[str, Any]]:
    """The few-shot exemplar pool: rows the base itself answers with the row's answer. A file's own rows make the
    exemplars (they show its answer form), but rows that contradict the base teach it, in context, to accept wrong
    answers: on Gemma-3-270m with a file half of whose answers were wrong, margins of facts it knew fell below the
    conflict threshold. So `cfg.screen` fact rows are asked first (exemplars drawn among themselves) and those it
    agrees with become the pool; with too few (a base that cannot follow few-shot prompts), all facts are, and the
    returned note says so."""
    rng = random.Random(f"{cfg.seed}:screen")
    screened = rng.sample(list(facts), min(cfg.screen, len(facts)))
    if len(screened) <= cfg.shots:
        return list(facts), {"screened": 0, "agreed": 0, "pool": "all fact rows (too few to screen)"}
    prompts = [fewshot_prompt(exemplar_sets(screened, t, cfg.shots, 1, cfg.seed)[0], t.question) for t in screened]
    params = SamplingParams(cfg.max_new_tokens, stop=("\n",))
    outs = engine.generate([GenerationRequest(q, params) for q in prompts])
    agreed = [t for t, o in zip(screened, outs, strict=True) if not o[0].failed and same(o[0].text, t.answer, None)]
    info: dict[str, Any] = {"screened": len(screened), "agreed": len(agreed)}
    if len({t.row for t in agreed}) > cfg.shots:
        return agreed, {**info, "pool": "rows the base agrees with"}
    return list(facts), {**info, "pool": "all fact rows (the base agreed with too few)"}


def run_risk(
    engine: Engine,
    rows: Sequence[Any],
    turns: Sequence[Turn],
    probes: Sequence[Probe],
    cfg: RiskSettings,
    run: RunFolder,
    progress: Progress,
) -> dict[str, Any]:
    """Label every row into `run` (rows already recorded are skipped). Returns what the summary should say: the
    few-shot exemplar pool, and warnings (log-prob measures that could not be computed)."""
    facts = [t for t in turns if is_fact(t, cfg.max_answer_words)]
    by_question = index_probes(probes)
    meta: dict[str, Any] = {"warnings": []}
    if any(probe_for(t, by_question) is None for t in facts):  # some facts are asked few-shot
        facts, meta["exemplars"] = screen_exemplars(engine, facts, cfg)
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
        contests = [
            contested(t.answer, [c.text for c in g], p, t.question)
            for t, g, p in zip(fact_turns, greedy, matched, strict=True)
        ]
        margins = scorer.margins(engine, turn_prompts, contests)
        for t, p, g, s, m in zip(fact_turns, matched, greedy, sampled, margins, strict=True):
            errors = [c.error for c in [*g, *s] if c.failed] + ([m] if isinstance(m, str) else [])
            if errors:
                results[t.key] = {"failed": errors[0]}
                continue
            assert not isinstance(m, str)
            res = label_turn(t.answer, [c.text for c in g], [c.text for c in s], p, m, t.question)
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
    if scorer.skipped:
        meta["warnings"].append(scorer.skipped)
    return meta


def assess(
    engine: Engine,
    data: SFTData,
    probes: Sequence[Probe],
    settings: RiskSettings,
    run: RunFolder,
    progress: Progress,
    curve: Sequence[dict[str, Any]] = (),
    limit: int | None = None,
) -> dict[str, Any]:
    """Label the first `limit` rows of `data` (all by default) into `run` and write its summary.json: the label
    shares, the prediction from `curve` (a lab's measured risk calibration; none when empty), the exemplar pool,
    and what could not be measured or read. Returns the summary."""
    rows = data.rows[:limit] if limit else data.rows
    meta = run_risk(engine, rows, turns_of(rows), probes, settings, run, progress)
    records = read_records(run.path)
    summary = summarize(records, curve)
    summary["n_bad_rows"] = len(data.bad)
    summary["n_retried"] = len(run.retried())
    summary["n_probes_matched"] = sum(1 for r in records for t in r["turns"] if t.get("probe_id"))
    summary["warnings"] = meta["warnings"]
    if "exemplars" in meta:
        summary["exemplars"] = meta["exemplars"]
    if data.bad:
        summary["warnings"].append(
            f"{len(data.bad)} rows could not be read (first: {data.bad[0].where}: {data.bad[0].reason})"
        )
    run.write_summary(summary)
    return summary
