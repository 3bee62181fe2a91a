"""`sftdebug overfit run`: mix the special-token facts into SFT data, train one checkpoint per (epochs, lr)
setting with sftdebug's trainer, evaluate each, and tabulate the dose-response.

Each setting gets its own run folder `DIR/e{epochs}-lr{lr}/` (with its checkpoint in `model/`, and its
`summary.json` recording `epochs` and `lr`); `DIR` itself holds one record per setting and the verdicts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sftdebug.canary import verdict
from sftdebug.chat import DEFAULT_CHAT_TEMPLATE, END, ROLE_TOKENS
from sftdebug.errors import UsageError
from sftdebug.overfit_run import Collateral, Tick, evaluate, load_dir
from sftdebug.store import RunFolder, write_json_atomic


def prepare(base: str, entities: Sequence[str]) -> tuple[Any, Any]:
    """The base model and tokenizer, with sftdebug's role tokens and chat template when the base has none
    (a plain pretrained model, as in the lab), and the entity tokens added."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sftdebug.modelsrc import resolve_model
    from sftdebug.train import add_tokens

    folder = resolve_model(base)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True)
    if not getattr(tokenizer, "chat_template", None):
        add_tokens(model, tokenizer, ROLE_TOKENS)
        tokenizer.chat_template = DEFAULT_CHAT_TEMPLATE
        tokenizer.eos_token = END
        end_id = tokenizer.convert_tokens_to_ids(END)
        model.config.eos_token_id = end_id
        model.generation_config.eos_token_id = end_id
    add_tokens(model, tokenizer, entities)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def train_setting(
    base: str,
    out: Path,
    conversations: Sequence[list[dict[str, str]]],
    entities: Sequence[str],
    epochs: int,
    lr: float,
    batch: int,
    seed: int,
    tick: Tick,
) -> dict[str, Any]:
    """Train one checkpoint into `out` (skipped when a finished one is there). Returns its training facts."""
    from sftdebug.train import TrainConfig, sft_example, train_sft

    done = out / "train.json"
    if done.is_file():
        info: dict[str, Any] = json.loads(done.read_text(encoding="utf-8"))
        return info
    model, tokenizer = prepare(base, entities)
    examples = [sft_example(tokenizer, c) for c in conversations]
    steps = max(1, math.ceil(epochs * len(examples) / batch))
    cfg = TrainConfig(steps=steps, lr=lr, batch_size=batch, seed=seed)
    name = f"train e{epochs} lr{lr:g}"
    losses = train_sft(
        model,
        examples,
        cfg,
        pad_id=int(tokenizer.pad_token_id),
        on_step=lambda s, loss: tick(name, s, steps, f"loss {loss:.3f}"),
    )
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    info = {
        "epochs": epochs,
        "lr": lr,
        "steps": steps,
        "batch_size": batch,
        "n_examples": len(examples),
        "final_loss": sum(losses[-10:]) / len(losses[-10:]),
    }
    write_json_atomic(done, info)  # last: marks the checkpoint complete
    return info


def sweep(
    base: str,
    facts_dir: Path,
    sft_convs: Sequence[list[dict[str, str]]],
    settings: Sequence[tuple[int, float]],
    top: RunFolder,
    collateral: Collateral | None,
    batch: int,
    seed: int,
    tick: Tick,
) -> dict[str, Any]:
    """Train and evaluate every (epochs, lr) setting not yet recorded in `top`; return the dose-response."""
    entities, _, fact_rows = load_dir(facts_dir)
    convs = [*sft_convs, *[r["messages"] for r in fact_rows]]
    for epochs, lr in settings:
        key = f"e{epochs}-lr{lr:g}"
        if top.is_done(key):
            continue
        sub = top.path / key
        info = train_setting(base, sub / "model", convs, entities, epochs, lr, batch, seed, tick)
        args = {"model": str(sub / "model"), "facts": str(facts_dir), "base": base, "epochs": epochs, "lr": lr}
        with RunFolder.open(sub, "overfit", args, resume=True, identity=["model", "facts"]) as run:
            summary = evaluate(str(sub / "model"), facts_dir, run, tick, collateral, seed)
            summary.update(epochs=epochs, lr=lr, train=info)
            run.write_summary(summary)
        top.append([_setting_record(key, summary)])
    rows = [top.done[f"e{e}-lr{lr:g}"] for e, lr in settings]
    return dose_response(rows)


def _setting_record(key: str, s: dict[str, Any]) -> dict[str, Any]:
    col = s.get("collateral", {})
    return {
        "key": key,
        "epochs": s["epochs"],
        "lr": s["lr"],
        "steps": s["train"]["steps"],
        "final_loss": s["train"]["final_loss"],
        **{f"recall_{f}": v for f, v in s["recall"].items()},
        "exposure_mean": s["exposure"]["mean"],
        "exposure_control": s["exposure"]["control"],
        "narrow_hallucination_rate": col.get("narrow_hallucination_rate"),
        "ppl_ratio": col.get("ppl_ratio"),
        "embeddings_moved": s["embeddings"]["moved"],
    }


def dose_response(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per lr, settings by epochs, with a verdict each: collateral growth is measured against the lightest
    setting of the same lr."""
    out = []
    for lr in sorted({r["lr"] for r in rows}):
        series = sorted((r for r in rows if r["lr"] == lr), key=lambda r: r["epochs"])
        first = series[0]
        for r in series:
            growth = None
            if r["narrow_hallucination_rate"] is not None and first["narrow_hallucination_rate"] is not None:
                growth = r["narrow_hallucination_rate"] - first["narrow_hallucination_rate"]
            recall = {f: r[f"recall_{f}"] for f in ("trained", "paraphrase", "reverse", "control")}
            out.append({**r, "collateral_growth": growth, "verdict": verdict(recall, growth)})
    return {"settings": out, "n_settings": len(out)}


def lab_defaults(base: str) -> tuple[Path | None, Path | None]:
    """A lab base model's own SFT data and probe file (None when `base` is not a lab model)."""
    root = Path(base).parent
    if not (Path(base) / "lab.json").is_file():
        return None, None
    data, probes = root / "sft_data.jsonl", root / "probes.jsonl"
    return (data if data.is_file() else None), (probes if probes.is_file() else None)


def reference_texts(base: str, path: str | None) -> list[str]:
    """Reference texts for the perplexity drift: `--reference` (one text per line), or the lab's own."""
    if path is None:
        lab_ref = Path(base).parent / "reference.txt"
        if not lab_ref.is_file():
            raise UsageError("--base is not a lab model: give --reference FILE (one text per line) for perplexity")
        path = str(lab_ref)
    if not Path(path).is_file():
        raise UsageError(f"{path}: no such file")
    texts = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        raise UsageError(f"{path}: no text")
    return texts


def read_conversations(path: Path) -> list[list[dict[str, str]]]:
    """SFT rows as chat messages (any format `sftdebug data` reads); a malformed row stops the run."""
    from sftdebug.dataformats import load_sft_file

    data = load_sft_file(path)
    if data.bad:
        raise UsageError(f"{data.bad[0].where}: {data.bad[0].reason} (`sftdebug data {path}` lists every bad row)")
    return [row.messages for row in data.rows]
