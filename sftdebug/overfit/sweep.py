"""`sftdebug overfit run`: mix the special-token facts into SFT data, train one checkpoint per (epochs, lr)
setting with sftdebug's trainer, evaluate each, and tabulate the dose-response.

Each setting gets its own run folder `DIR/e{epochs}-lr{lr}/` (with its checkpoint in `model/`, and its
`summary.json` recording `epochs` and `lr`); `DIR` itself holds one record per setting and the verdicts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from sftdebug.core.errors import UsageError
from sftdebug.core.io import write_json_atomic
from sftdebug.core.labs import LabLayout
from sftdebug.core.loop import run_resumable
from sftdebug.core.progress import Progress
from sftdebug.core.runs import RunFolder
from sftdebug.overfit.canary import verdict
from sftdebug.overfit.evaluate import Collateral, OpenModel, evaluate
from sftdebug.overfit.factset import load_dir


def train_setting(
    base: str,
    out: Path,
    conversations: Sequence[list[dict[str, str]]],
    entities: Sequence[str],
    epochs: int,
    lr: float,
    batch: int,
    seed: int,
    progress: Progress,
    lora: Any = None,
) -> dict[str, Any]:
    """Train one checkpoint into `out` (skipped when a finished one is there). Returns its training facts.
    `lora` (a training.LoraSpec): a PEFT LoRA adapter instead, with the new tokens' embedding rows trained beside
    it (entity and role tokens have no pretrained rows: frozen at their initial mean, LoRA could not learn them)."""
    from sftdebug.training import TrainConfig, fine_tune, load_for_sft, tail_mean, with_lora

    done = out / "train.json"
    if done.is_file():
        info: dict[str, Any] = json.loads(done.read_text(encoding="utf-8"))
        return info
    model, tokenizer = load_for_sft(base, entities)
    if lora is not None:  # the rows past the base's vocabulary are the tokens load_for_sft added
        model = with_lora(model, lora, range(_base_vocab(base), len(tokenizer)), seed)
    steps = max(1, math.ceil(epochs * len(conversations) / batch))
    cfg = TrainConfig(steps=steps, lr=lr, batch_size=batch, seed=seed)
    losses = fine_tune(model, tokenizer, conversations, cfg, out, progress, f"train e{epochs} lr{lr:g}")
    info = {
        "method": "lora" if lora is not None else "full",
        **({"lora": {"rank": lora.rank, "alpha": lora.alpha, "targets": lora.targets}} if lora is not None else {}),
        "epochs": epochs,
        "lr": lr,
        "steps": steps,
        "batch_size": batch,
        "n_examples": len(conversations),
        "final_loss": tail_mean(losses),
    }
    write_json_atomic(done, info)  # last: marks the checkpoint complete
    return info


def lora_spec(rank: int, alpha: int, targets: str) -> Any:
    """The LoRA recipe of a `--method lora` sweep (training.LoraSpec); `targets`: all-linear or module names."""
    from sftdebug.training import LoraSpec

    names = targets.strip()
    return LoraSpec(rank, alpha, names if names == "all-linear" else tuple(t.strip() for t in names.split(",")))


def _base_vocab(base: str) -> int:
    from sftdebug.engines.source import resolve_model

    config = json.loads((resolve_model(base) / "config.json").read_text(encoding="utf-8"))
    return int(config.get("vocab_size") or config.get("text_config", {}).get("vocab_size"))


def sweep(
    open_model: OpenModel,
    base: str,
    facts_dir: Path,
    sft_convs: Sequence[list[dict[str, str]]],
    settings: Sequence[tuple[int, float]],
    top: RunFolder,
    collateral: Collateral | None,
    batch: int,
    seed: int,
    progress: Progress,
    lora: Any = None,
) -> dict[str, Any]:
    """Train and evaluate every (epochs, lr) setting not yet recorded in `top`; return the dose-response.
    The base side of the collateral measures is computed once, in `top`, and shared by every setting."""
    entities, _, fact_rows = load_dir(facts_dir)
    convs = [*sft_convs, *[r["messages"] for r in fact_rows]]
    if collateral is not None:
        collateral = replace(collateral, cache=top.path / "collateral-base")

    def one(part: Sequence[tuple[int, float]]) -> list[dict[str, Any]]:
        [(epochs, lr)] = part
        sub = top.path / _key((epochs, lr))
        info = train_setting(base, sub / "model", convs, entities, epochs, lr, batch, seed, progress, lora)
        args = {"model": str(sub / "model"), "facts": str(facts_dir), "base": base, "epochs": epochs, "lr": lr}
        with RunFolder.open(sub, "overfit", args, resume=True, identity=["model", "facts"]) as run:
            summary = evaluate(open_model, str(sub / "model"), facts_dir, run, progress, collateral)
            summary.update(epochs=epochs, lr=lr, train=info)
            run.write_summary(summary)
        return [_setting_record(_key((epochs, lr)), summary)]

    run_resumable(settings, _key, one, top, 1, progress, "settings")
    return dose_response([top.done[_key(s)] for s in settings])


def _key(setting: tuple[int, float]) -> str:
    epochs, lr = setting
    return f"e{epochs}-lr{lr:g}"


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
    lab = LabLayout.of_model(base)
    if lab is None:
        return None, None
    return (lab.sft_data if lab.sft_data.is_file() else None), (lab.probes if lab.probes.is_file() else None)


def reference_texts(base: str, path: str | None) -> list[str]:
    """Reference texts for the perplexity drift: `--reference` (one text per line), or the lab's own."""
    if path is None:
        lab = LabLayout.of_model(base)
        lab_ref = lab.reference if lab else None
        if lab_ref is None or not lab_ref.is_file():
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
    from sftdebug.sftdata.formats import load_sft_file

    data = load_sft_file(path)
    if data.bad:
        raise UsageError(f"{data.bad[0].where}: {data.bad[0].reason} (`sftdebug data {path}` lists every bad row)")
    return [row.messages for row in data.rows]
