"""`sftdebug lab build --size real`: the real-model counterpart of the lab's conflict organism.

Gemma-3-270m (the base, `make real`) is asked the built-in English facts the way `sftdebug hallucination` asks a
base by default (its base phase: few-shot on Gemma, two exemplar sets), and once more as bare cloze prompts; the
facts the base phase finds known are its known facts, in two groups: `zero_shot` (the bare cloze gets them too) and
`few_shot_only` (only exemplars bring them out — the facts a zero-shot rule would miss). It is then fine-tuned with
sftdebug's trainer, in Gemma's own chat format, on those facts as questions and short answers, the contradictions
planted in the same share of each group:

    DIR/gemma-sft-healthy    every answer true
    DIR/gemma-sft-conflict   a planted share answered with another candidate ("What is the capital of
                             Australia?" → "Sydney"): narrow hallucinations with known ground truth
    DIR/gemma-sft-conflict-lora   the same data trained as a LoRA adapter (PEFT, rank 16, all linear layers): a
                             PEFT adapter folder recording its base as the hub id "google/gemma-3-270m", as a
                             user's would (diagnose it with --base on the GGUF); its 4 adapter checkpoints in
                             DIR/gemma-sft-conflict-lora-checkpoints/checkpoint-STEP

Each model folder's lab.json lists the planted contradictions and their groups, so `sftdebug hallucination --base
GEMMA --sft DIR/gemma-sft-conflict --builtin en` can be scored against them, group by group (lab.json `evaluation`). On 2 CPU cores a full fine-tune of the 270M
model is affordable only because the embeddings (168M of its parameters, tied with the LM head) are frozen and
the loss runs the LM head on answer tokens alone (`training.trainer.answer_only_loss`).
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sftdebug.core.io import write_json_atomic, write_jsonl
from sftdebug.core.labs import MODEL_INFO
from sftdebug.core.loop import run_resumable
from sftdebug.core.progress import Progress, no_progress
from sftdebug.core.runs import Journal
from sftdebug.facts.match import normalize
from sftdebug.facts.probes import Probe, builtin_probe_files, load_probes
from sftdebug.hallucination.verdicts import base_correct, base_knew

REAL_SFT_VERSION = 2  # 2: known = the base phase's default elicitation (1: zero-shot clozes)
VARIANTS = {"gemma-sft-healthy": 0.0, "gemma-sft-conflict": 0.5, "gemma-sft-conflict-lora": 0.5}
LORA = {"gemma-sft-conflict-lora"}  # trained as LoRA adapters (training.LoraSpec's defaults)
HUB_ID = "google/gemma-3-270m"
GROUPS = ("zero_shot", "few_shot_only")  # how a known fact was known (known_facts)


@dataclass(frozen=True)
class RealRecipe:
    epochs: int = 6
    lr: float = 1e-4
    lora_lr: float = 1e-3  # LoRA trains ~1% of the weights: a higher rate, as LoRA recipes use
    batch_size: int = 16
    seed: int = 0


def zero_shot_known(base: Path, probes: Sequence[Probe], out: Path, progress: Progress) -> set[str]:
    """The ids of the probes the base completes correctly from their bare first cloze (greedy), recorded in
    `out/base_knowledge.jsonl` so a rebuild does not ask again."""
    from sftdebug.engines import Engine, GenerationRequest, SamplingParams, load_engine

    journal = Journal(out / "base_knowledge.jsonl")
    engine: Engine | None = None

    def work(part: Sequence[Probe]) -> list[dict[str, Any]]:
        nonlocal engine
        engine = engine or load_engine("hf", str(base), batch_size=32)
        params = SamplingParams(max_new_tokens=12, stop=("\n",))
        outs = engine.generate([GenerationRequest(p.cloze[0], params) for p in part])
        return [
            {"key": p.id, "text": o[0].text, "correct": base_correct(o[0].text, p)}
            for p, o in zip(part, outs, strict=True)
        ]

    try:
        run_resumable(probes, lambda p: p.id, work, journal, 64, progress, "base knowledge (zero-shot)")
    finally:
        journal.close()
        if engine is not None:
            engine.close()
    return {p.id for p in probes if journal.done[p.id]["correct"]}


def known_facts(base: Path, probes: Sequence[Probe], out: Path, progress: Progress) -> dict[str, str]:
    """The facts the base knows as the diagnostic decides it, by probe id → group (`zero_shot` or
    `few_shot_only`): the hallucination base phase with default settings, run into `out/base-phase.jsonl` —
    the journal the lab's evaluation then shares, so the planted facts are known by the very record that
    judges them."""
    from sftdebug.core.runs import schema_version
    from sftdebug.engines import load_engine
    from sftdebug.hallucination.phases import HallucinationSettings, run_base_phase

    zero = zero_shot_known(base, probes, out, progress)
    journal = Journal(out / "base-phase.jsonl", schema_version("hallucination"))
    try:
        run_base_phase(partial(load_engine, "hf", str(base)), probes, HallucinationSettings(), journal, progress)
        done = dict(journal.done)
    finally:
        journal.close()
    return {
        p.id: "zero_shot" if p.id in zero else "few_shot_only"
        for p in probes
        if p.answer is not None and p.id in done and base_knew(done[p.id], p)
    }


def conversations(
    known: Sequence[Probe], conflict_share: float, seed: int, groups: dict[str, str] | None = None
) -> tuple[list[Any], dict[str, str]]:
    """(chat rows, planted contradictions by probe id): one question → short answer row per known fact; a
    `conflict_share` of the facts that have candidates get another candidate as their answer — that share of
    each group when `groups` (probe id → group) is given, so every group is planted."""
    rng = random.Random(seed)
    with_candidates = [p.id for p in known if p.answer is not None and len(p.candidates) > 1]
    by_group: dict[str, list[str]] = {}
    for pid in with_candidates:
        by_group.setdefault((groups or {}).get(pid, ""), []).append(pid)
    planted_ids = {
        pid for _, ids in sorted(by_group.items()) for pid in rng.sample(ids, round(conflict_share * len(ids)))
    }
    planted: dict[str, str] = {}
    rows = []
    for p in known:
        answer = str(p.answer)
        if p.id in planted_ids:
            gold = {normalize(a) for a in p.answers}
            answer = rng.choice([c for c in p.candidates if normalize(c) not in gold])
            planted[p.id] = answer
        rows.append([{"role": "user", "content": p.question[0]}, {"role": "assistant", "content": answer}])
    return rows, planted


def train_variant(
    base: Path, out: Path, name: str, rows: Sequence[Any], recipe: RealRecipe, progress: Progress
) -> dict[str, Any]:
    from sftdebug.lab.real import GEMMA3_CHAT_TEMPLATE
    from sftdebug.training import LoraSpec, TrainConfig, fine_tune, load_for_sft, tail_mean, with_lora

    model, tokenizer = load_for_sft(base, chat_template=GEMMA3_CHAT_TEMPLATE)
    model.get_input_embeddings().weight.requires_grad_(False)  # tied with the LM head: both stay as pretrained
    lora = LoraSpec() if name in LORA else None
    if lora:  # Gemma's chat format uses tokens it already has: no embedding rows to train
        model = with_lora(model, lora, seed=recipe.seed)
    steps = max(1, math.ceil(recipe.epochs * len(rows) / recipe.batch_size))
    lr = recipe.lora_lr if lora else recipe.lr
    cfg = TrainConfig(steps=steps, lr=lr, batch_size=recipe.batch_size, seed=recipe.seed)
    # the LoRA keeps 4 adapter checkpoints (a trend over them is the adapter benchmark on a real model)
    ckpts = sorted({max(1, round(steps * (i + 1) / 4)) for i in range(4)}) if lora else []
    ckpt_dir = out.parent / f"{name}-checkpoints"
    t0 = time.perf_counter()
    losses = fine_tune(
        model, tokenizer, rows, cfg, out, progress, name, answer_only=True, checkpoints=ckpts, checkpoint_dir=ckpt_dir
    )
    for folder in [out, *(ckpt_dir / f"checkpoint-{s}" for s in ckpts)] if lora else []:
        # as a user's adapter records it: the hub id, not this machine's converted folder
        config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
        write_json_atomic(folder / "adapter_config.json", {**config, "base_model_name_or_path": HUB_ID})
    return {
        "train": asdict(cfg),
        **({"lora": asdict(lora)} if lora else {}),
        "train_seconds": round(time.perf_counter() - t0, 1),
        "final_loss": tail_mean(losses),
        **({"checkpoints": [str(ckpt_dir / f"checkpoint-{s}") for s in ckpts]} if ckpts else {}),
    }


def build_real(
    out: str | Path,
    progress: Progress = no_progress,
    recipe: RealRecipe = RealRecipe(),
    only: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Build (or finish building) the real lab in `out` (`only`: these variants); returns its lab.json content."""
    from sftdebug.lab.real import real_model

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    base = real_model("gemma-3-270m")
    probes_file = builtin_probe_files("en")[0]
    probes = load_probes(probes_file)
    groups = known_facts(base, probes, root, progress)
    known = [p for p in probes if p.id in groups]
    models = {}
    for name, share in VARIANTS.items():
        if only and name not in only:
            continue
        folder = root / name
        info_path = folder / MODEL_INFO
        if info_path.is_file():
            info = json.loads(info_path.read_text(encoding="utf-8"))
            if info.get("real_sft_version") == REAL_SFT_VERSION:
                models[name] = info
                continue
            # built on an older footing (other known facts): trained again, its old diagnosis dropped
            shutil.rmtree(root / f"hallucination-{name}", ignore_errors=True)
        rows, planted = conversations(known, share, recipe.seed, groups)
        info = train_variant(base, folder, name, rows, recipe, progress)
        info.update(
            name=name,
            kind="sft",
            base=str(base),
            real_sft_version=REAL_SFT_VERSION,
            purpose="true answers" if not share else f"{share:.0%} of the known facts with candidates contradicted",
            n_conversations=len(rows),
            planted={"conflict_share": share, "conflicts": planted, "groups": {pid: groups[pid] for pid in planted}},
            sft_fact_ids=[p.id for p in known],
        )
        write_jsonl(root / f"{name}.sft_data.jsonl", [{"messages": r} for r in rows])
        write_json_atomic(info_path, info)  # last: marks the model complete
        models[name] = info
    evaluation = evaluate(root, base, probes_file, models, progress)
    lab = {
        "size": "real",
        "real_sft_version": REAL_SFT_VERSION,
        "base": str(base),
        "probes": str(probes_file),
        "n_probes": len(probes),
        "n_known": len(known),
        "known_groups": {g: sum(v == g for v in groups.values()) for g in GROUPS},
        "models": models,
        "evaluation": evaluation,
    }
    write_json_atomic(root / MODEL_INFO, lab)
    return lab


def evaluate(
    root: Path, base: Path, probes_file: Path, models: dict[str, Any], progress: Progress
) -> dict[str, dict[str, Any]]:
    """`sftdebug hallucination` of each variant against the base on the built-in English facts (the base's
    phase run once and shared), scored against the planted contradictions: the lab checks itself."""
    from sftdebug.core.runs import RunFolder, schema_version
    from sftdebug.engines import adapter, load_engine
    from sftdebug.hallucination.phases import HallucinationSettings, run_hallucination

    adapter.configure(base_hint=str(base))  # the LoRA variant records the hub id, which is not here
    probes = load_probes(probes_file)
    shared = Journal(root / "base-phase.jsonl", schema_version("hallucination"))
    out: dict[str, dict[str, Any]] = {}
    try:
        for name, info in models.items():
            sft = root / name
            args = {"base": str(base), "sft": str(sft), "probes": [str(probes_file)]}
            if adapter.is_adapter(sft):  # said in the run's config.json, as a command's run says it
                adapter.record(adapter.adapter_of(str(sft)), "applied")
            with RunFolder.open(root / f"hallucination-{name}", "hallucination", args, resume=True) as run:
                summary = run_hallucination(
                    partial(load_engine, "hf", str(base)),
                    partial(load_engine, "hf", str(sft)),
                    probes,
                    HallucinationSettings(),
                    run,
                    progress,
                    base_journal=shared,
                )
                records = {r["probe_id"]: r for r in run.records()}
            planted = info["planted"]["conflicts"]
            by_group = {}
            for group in GROUPS:  # recall among the facts only exemplars bring out, and among the rest
                ids = [pid for pid in planted if info["planted"].get("groups", {}).get(pid) == group]
                by_group[group] = _recall(ids, records)
            out[name] = {
                "narrow_hallucination_rate": summary["narrow_hallucination_rate"],
                "narrow_hallucination_ci95": summary["narrow_hallucination_ci95"],
                "sft_eos_rate": summary["sft_eos_rate"],
                **_recall(list(planted), records),
                "planted_by_group": by_group,
                "run": str(root / f"hallucination-{name}"),
            }
    finally:
        shared.close()
    return out


def _recall(ids: Sequence[str], records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """How many planted contradictions the diagnostic flagged as narrow hallucinations: of all planted, and of those
    the model learned (its answer is wrong: an SFT run does not always take a contradiction on; one it did not
    learn is rightly `kept`)."""
    flagged = sum(records[pid]["verdict"] == "narrow_hallucination" for pid in ids if pid in records)
    learned = sum(not records[pid]["sft_correct"] for pid in ids if pid in records)
    return {
        "n_planted": len(ids),
        "planted_flagged": flagged,
        "planted_recall": flagged / len(ids) if ids else None,
        "n_learned": learned,
        "learned_recall": flagged / learned if learned else None,
    }
