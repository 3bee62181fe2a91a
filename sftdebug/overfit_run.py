"""`sftdebug overfit`: make special-token fact sets, evaluate a model on them, and train dose-response runs.

    sftdebug overfit make --n-facts 50 --out facts/
    sftdebug overfit eval --model ckpt/ --facts facts/ --base base/ --out DIR
    sftdebug overfit run --base reports/lab-demo/base --epochs 1,3,10 --out DIR

`eval` measures recall per question form (greedy chat answers), exposure of the true entity among all entity
tokens (by log-prob), whether the entity tokens' input/output embedding rows moved away from their
initialisation, and, with `--base`, the collateral damage: the narrow-hallucination rate on a probe set and
the perplexity ratio on reference text. `run` trains one checkpoint per (epochs, lr) setting with sftdebug's
own trainer and evaluates each.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sftdebug.canary import (
    FORMS,
    EvalItem,
    eval_items,
    exposure,
    make_facts,
    rank_of,
    states_fact,
    to_dicts,
    tokens,
    train_rows,
)
from sftdebug.engines.base import Engine, GenerationRequest, SamplingParams, ScoreRequest
from sftdebug.errors import UsageError
from sftdebug.jsonl import read_jsonl, write_jsonl
from sftdebug.store import RunFolder, write_json_atomic

Tick = Callable[[str, int, int, str], None]


def make_dir(
    out: Path, n_facts: int, relations: Sequence[str], repeats: int, control_share: float, seed: int
) -> dict[str, Any]:
    """Write tokens.json, facts.jsonl, train.jsonl and eval.jsonl for a new fact set."""
    try:
        facts = make_facts(n_facts, relations, control_share, seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "facts.jsonl", to_dicts(facts))
    write_jsonl(out / "train.jsonl", train_rows(facts, repeats))
    write_jsonl(out / "eval.jsonl", to_dicts(eval_items(facts)))
    info = {
        "tokens": tokens(facts),
        "n_facts": n_facts,
        "relations": list(relations),
        "repeats": repeats,
        "control_share": control_share,
        "seed": seed,
    }
    write_json_atomic(out / "tokens.json", info)  # last: its presence means the set is complete
    return info


def load_dir(facts_dir: Path) -> tuple[list[str], list[EvalItem], list[dict[str, Any]]]:
    """(entity tokens, eval items, train rows) of a fact set made by `make_dir`."""
    if not (facts_dir / "tokens.json").is_file():
        raise UsageError(f"{facts_dir} is not a fact set (no tokens.json): make one with `sftdebug overfit make`")
    info = json.loads((facts_dir / "tokens.json").read_text(encoding="utf-8"))
    items = []
    for n, obj in read_jsonl(facts_dir / "eval.jsonl"):
        try:
            items.append(EvalItem(**obj))
        except TypeError as exc:
            raise UsageError(f"{facts_dir / 'eval.jsonl'}:{n}: {exc}") from None
    rows = [obj for _, obj in read_jsonl(facts_dir / "train.jsonl")]
    return list(info["tokens"]), items, rows


# --- evaluation ---------------------------------------------------------------------------------------


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


def embedding_movement(model: Any, tokenizer: Any, entities: Sequence[str], base_model: Any | None) -> dict[str, Any]:
    """Did the entity rows learn? Relative distance of each row from its initialisation (sftdebug's trainer
    starts new rows at the mean of the base embeddings; with a base we use that mean, otherwise the mean of
    the entity rows themselves), for input and output embeddings. Frozen or never-updated rows stay put."""
    import torch

    ids = [int(tokenizer.convert_tokens_to_ids(e)) for e in entities]
    out: dict[str, Any] = {}
    inp = model.get_input_embeddings().weight.detach().float()
    outp = model.get_output_embeddings()
    outw = outp.weight.detach().float() if outp is not None else None
    out["tied"] = outw is not None and outp.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    for name, weight, base_w in (
        ("input", inp, base_model.get_input_embeddings().weight if base_model else None),
        ("output", outw, base_model.get_output_embeddings().weight if base_model else None),
    ):
        if weight is None:
            continue
        rows = weight[ids]
        init = (base_w.detach().float().mean(0) if base_w is not None else rows.mean(0)).unsqueeze(0)
        rel = (torch.linalg.norm(rows - init, dim=1) / torch.linalg.norm(init).clamp_min(1e-8)).tolist()
        out[f"{name}_rel_change_mean"] = sum(rel) / len(rel)
        out[f"{name}_moved_share"] = sum(r > 1e-3 for r in rel) / len(rel)
    out["moved"] = bool(out.get("input_moved_share", 0) > 0.9 and out.get("output_moved_share", 1) > 0.9)
    return out


def perplexity(engine: Any, texts: Sequence[str]) -> float:
    """Token-level perplexity of reference texts (each scored after the tokenizer's eos/bos as context)."""
    tok = engine.tokenizer
    start = tok.bos_token or tok.eos_token
    scores = engine.score([ScoreRequest(start, t) for t in texts])
    n = sum(len(s.token_logprobs) for s in scores)
    return math.exp(-sum(s.logprob for s in scores) / n)


def summarize_eval(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    by_form: dict[str, list[dict[str, Any]]] = {f: [r for r in records if r["form"] == f] for f in FORMS}
    mean = lambda xs: sum(xs) / len(xs) if xs else None  # noqa: E731
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
    """What `eval --base` compares against: a probe file for narrow hallucination, reference texts for ppl."""

    base: str
    probes: str
    reference: list[str]


def evaluate(
    model: str, facts_dir: Path, run: RunFolder, tick: Tick, collateral: Collateral | None = None, seed: int = 0
) -> dict[str, Any]:
    """`overfit eval` on one model; writes records and summary into `run`. Returns the summary."""
    from sftdebug.engines.hf import HFEngine

    entities, items, _ = load_dir(facts_dir)
    engine = HFEngine(model)
    missing = [e for e in entities if e not in engine.tokenizer.get_vocab()]
    if missing:
        raise UsageError(
            f"{model} has no token {missing[0]} (and {len(missing) - 1} more): it was not trained "
            "with this fact set's tokens.json"
        )
    todo = [it for it in items if not run.is_done(it.id)]
    tick("recall + exposure", len(items) - len(todo), len(items), "")
    for start in range(0, len(todo), 32):
        run.append(recall_and_exposure(engine, todo[start : start + 32], entities))
        tick("recall + exposure", len(items) - len(todo) + min(len(todo), start + 32), len(items), "")
    summary = summarize_eval([run.done[it.id] for it in items])
    base_model = None
    if collateral:
        base_engine = HFEngine(collateral.base)
        base_model = base_engine.model
        summary["collateral"] = _collateral(engine, base_engine, model, collateral, run.path / "collateral", tick)
    summary["embeddings"] = embedding_movement(engine.model, engine.tokenizer, entities, base_model)
    run.write_summary(summary)
    return summary


def _collateral(engine: Any, base_engine: Any, model: str, c: Collateral, out: Path, tick: Tick) -> dict[str, Any]:
    from sftdebug.hallucination_run import HallucinationConfig, run_hallucination
    from sftdebug.probes import load_probes

    args = {"base": c.base, "sft": model, "probes": [c.probes]}
    with RunFolder.open(out, "hallucination", args, resume=True, identity=["base", "sft", "probes"]) as sub:
        hal = run_hallucination(
            lambda: _Lent(base_engine), lambda: _Lent(engine), load_probes(c.probes), HallucinationConfig(), sub, tick
        )
    base_ppl, model_ppl = perplexity(base_engine, c.reference), perplexity(engine, c.reference)
    return {
        "narrow_hallucination_rate": hal["narrow_hallucination_rate"],
        "narrow_hallucination_ci95": hal["narrow_hallucination_ci95"],
        "sft_eos_rate": hal["sft_eos_rate"],
        "base_ppl": base_ppl,
        "model_ppl": model_ppl,
        "ppl_ratio": model_ppl / base_ppl,
        "run": str(out),
    }


class _Lent:
    """An engine lent to a sub-run: the sub-run's close() must not unload it."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def close(self) -> None:
        pass
