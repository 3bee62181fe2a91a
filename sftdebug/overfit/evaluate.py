"""`sftdebug overfit eval`: how a model that was fine-tuned with special-token facts holds them, and what the
fine-tune cost. Every model is reached through an engine (`--engine hf|vllm|openai`), one at a time.

    sftdebug overfit eval --model ckpt/ --facts facts/ --base base/ --out DIR

Measures recall per question form (greedy chat answers), exposure of the true entity among all entity tokens
(by log-prob), whether the entity tokens' embedding rows moved from their initialisation (an HF-only step:
overfit/embeddings.py), and, with `--base`, the collateral damage: the narrow-hallucination rate on a probe set
and the perplexity ratio on reference text. The base side of the collateral measures can be cached and shared
(`Collateral.cache`): a sweep computes it once for all its settings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sftdebug.core.errors import UsageError
from sftdebug.core.io import write_json_atomic
from sftdebug.core.loop import run_resumable
from sftdebug.core.progress import Progress
from sftdebug.core.runs import Journal, RunFolder, schema_version
from sftdebug.core.stats import mean
from sftdebug.engines.base import Engine, GenerationRequest, SamplingParams, ScoreRequest
from sftdebug.overfit.canary import FORMS, EvalItem, exposure, rank_of, states_fact
from sftdebug.overfit.factset import load_dir

OpenModel = Callable[[str], Engine]  # model name -> an engine over it (the kind and options chosen by the CLI)


def _chat(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}]


def recall_and_exposure(
    engine: Engine, items: Sequence[EvalItem], entities: Sequence[str], max_new_tokens: int = 24
) -> list[dict[str, Any]]:
    """One record per eval item: the greedy answer, whether it names the right entity first, and the true
    entity's rank and exposure among all entity tokens."""
    outs = engine.generate(
        [GenerationRequest(_chat(it.question), SamplingParams(max_new_tokens=max_new_tokens)) for it in items]
    )
    reqs = [ScoreRequest(_chat(it.question), " " + it.prefix + e) for it in items for e in entities]
    scores = iter(engine.score(reqs))
    records = []
    for it, out in zip(items, outs, strict=True):
        logprobs = {e: next(scores).logprob for e in entities}
        rank = rank_of(it.answer, logprobs)
        records.append(
            {
                "key": it.id,
                "fact_id": it.fact_id,
                "form": it.form,
                "question": it.question,
                "expected": it.answer,
                "text": out[0].text,
                "correct": states_fact(out[0].text, it.sentence),
                "rank": rank,
                "exposure": exposure(rank, len(entities)),
            }
        )
    return records


def perplexity(engine: Engine, texts: Sequence[str]) -> float:
    """Token-level perplexity of reference texts (each scored after the tokenizer's bos/eos as context)."""
    tok = engine.tokenizer
    if tok is None:
        raise UsageError(
            f"{engine.name}: perplexity needs the model's tokenizer (with --engine openai pass --tokenizer)"
        )
    start = tok.bos_token or tok.eos_token
    scores = engine.score([ScoreRequest(start, t) for t in texts])
    n = sum(len(s.token_logprobs) for s in scores)
    return math.exp(-sum(s.logprob for s in scores) / n)


def summarize_eval(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    by_form: dict[str, list[dict[str, Any]]] = {f: [r for r in records if r["form"] == f] for f in FORMS}
    return {
        "n_items": len(records),
        "recall": {f: mean([r["correct"] for r in rs]) for f, rs in by_form.items()},
        "exposure": {
            "mean": mean([r["exposure"] for r in by_form["trained"]]),
            **{f: mean([r["exposure"] for r in rs]) for f, rs in by_form.items()},
        },
        "rank1": {f: mean([r["rank"] == 1 for r in rs]) for f, rs in by_form.items()},
    }


@dataclass(frozen=True)
class Collateral:
    """What `eval --base` compares against: a probe file for narrow hallucination, reference texts for ppl.
    `cache`: a folder for the base side (its hallucination phase and perplexity), shared across evaluations."""

    base: str
    probes: str
    reference: list[str]
    cache: Path | None = None


def evaluate(
    open_model: OpenModel,
    model: str,
    facts_dir: Path,
    run: RunFolder,
    progress: Progress,
    collateral: Collateral | None = None,
) -> dict[str, Any]:
    """`overfit eval` on one model; writes records and summary into `run`. Returns the summary."""
    from sftdebug.engines.source import local_folder
    from sftdebug.overfit.embeddings import embedding_movement_of

    entities, items, _ = load_dir(facts_dir)
    model_ppl = None
    with closing(open_model(model)) as engine:
        _check_tokens(engine, entities)
        work = lambda part: recall_and_exposure(engine, part, entities)  # noqa: E731
        run_resumable(items, lambda it: it.id, work, run, 32, progress, "recall + exposure")
        if collateral:
            model_ppl = perplexity(engine, collateral.reference)
    summary = summarize_eval([run.done[it.id] for it in items])
    if collateral:
        cache = collateral.cache or run.path / "collateral"
        summary["collateral"] = _collateral(open_model, model, collateral, run.path / "collateral", cache, progress)
        summary["collateral"]["model_ppl"] = model_ppl
        summary["collateral"]["ppl_ratio"] = model_ppl / summary["collateral"]["base_ppl"]
    folder = local_folder(model)
    base_folder = local_folder(collateral.base) if collateral else None
    if folder is None:
        summary["embeddings"] = {"moved": None, "status": f"skipped: {model!r} is not a local checkpoint"}
    else:
        base = str(base_folder) if base_folder else None
        summary["embeddings"] = embedding_movement_of(str(folder), entities, base)
    run.write_summary(summary)
    return summary


def _check_tokens(engine: Engine, entities: Sequence[str]) -> None:
    if engine.tokenizer is None:
        raise UsageError(f"{engine.name}: overfit eval needs the model's tokenizer (with --engine openai: --tokenizer)")
    missing = [e for e in entities if e not in engine.tokenizer.get_vocab()]
    if missing:
        raise UsageError(
            f"{engine.name} has no token {missing[0]} (and {len(missing) - 1} more): it was not trained "
            "with this fact set's tokens.json"
        )


def _collateral(
    open_model: OpenModel, model: str, c: Collateral, out: Path, cache: Path, progress: Progress
) -> dict[str, Any]:
    """Narrow-hallucination rate of `model` against the base (the base phase read from `cache` when an earlier
    evaluation ran it), and the base's perplexity on the reference texts (cached the same way)."""
    from sftdebug.facts.probes import load_probes
    from sftdebug.hallucination import HallucinationSettings, run_hallucination

    cache.mkdir(parents=True, exist_ok=True)
    args = {"base": c.base, "sft": model, "probes": [c.probes]}
    base_journal = Journal(cache / "base-phase.jsonl", schema_version("hallucination"))
    try:
        with RunFolder.open(out, "hallucination", args, resume=True, identity=["base", "sft", "probes"]) as sub:
            hal = run_hallucination(
                lambda: open_model(c.base),
                lambda: open_model(model),
                load_probes(c.probes),
                HallucinationSettings(),
                sub,
                progress,
                base_journal=base_journal,
            )
    finally:
        base_journal.close()
    return {
        "narrow_hallucination_rate": hal["narrow_hallucination_rate"],
        "narrow_hallucination_ci95": hal["narrow_hallucination_ci95"],
        "sft_eos_rate": hal["sft_eos_rate"],
        "base_ppl": _base_ppl(open_model, c, cache),
        "run": str(out),
    }


def _base_ppl(open_model: OpenModel, c: Collateral, cache: Path) -> float:
    path = cache / "base-ppl.json"
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("base") == c.base and saved.get("n_texts") == len(c.reference):
            return float(saved["ppl"])
    with closing(open_model(c.base)) as engine:
        ppl = perplexity(engine, c.reference)
    write_json_atomic(path, {"base": c.base, "n_texts": len(c.reference), "ppl": ppl})
    return ppl
