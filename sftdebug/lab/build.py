"""The lab: tiny model organisms trained here, with known answers and planted failures.

`sftdebug lab build --size test|demo --out DIR` writes real Hugging Face checkpoint folders:

    DIR/base               LlamaForCausalLM pretrained on the synthetic world (byte-level BPE tokenizer)
    DIR/sft-healthy        SFT with role tokens, masked prompts, trained eos
    DIR/sft-conflict       half of the SFT answers contradict pretraining (planted narrow hallucinations)
    DIR/sft-conflict-checkpoints/checkpoint-STEP   sft-conflict at 1/4, 1/2, 3/4 and all of its schedule
                           (with trainer_state.json): what `hallucination --sft 'DIR/...-checkpoints/*'` trends
    DIR/sft-conflict-10, -25, sft-unknown   calibration for `sftdebug risk`: 10% / 25% conflicting answers, and
                           25% more rows about people pretraining never mentioned
    DIR/data/<model>.jsonl each SFT model's training data; DIR/calibration/ their hallucination runs and
                           (calibration/risk/) `sftdebug risk` runs on their data: narrow rate against the risky
                           shares risk measures, lab.json's `risk_calibration`
    DIR/sft-undertrained   so few steps that format and eos are not learned
    DIR/sft-hot            learning rate far too high
    DIR/probes.jsonl       every fact of the world as a probe (probes/README.md)
    DIR/sft_data.jsonl     the healthy SFT conversations ({"messages": [...]})
    DIR/reference.txt      pretraining-style text, one document per line (for perplexity drift)
    DIR/lab.json           how it was built; each model folder has its own lab.json (ground truth)
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sftdebug.core.io import write_json_atomic, write_jsonl
from sftdebug.core.labs import MODEL_INFO, LabLayout
from sftdebug.core.progress import Progress, no_progress
from sftdebug.lab.world import World, make_world, pretraining_docs, probe_records, sft_conversations, unknown_facts

EOT, PAD = "<|endoftext|>", "<|pad|>"
LAB_VERSION = 6  # bump when the lab changes, so cached labs are rebuilt (6: pinned numerics)


@dataclass(frozen=True)
class LabSize:
    n_people: int
    docs_per_person: int
    vocab_size: int
    hidden: int
    layers: int
    heads: int
    block: int
    pretrain_steps: int
    pretrain_lr: float
    pretrain_batch: int
    sft_steps: int
    sft_lr: float
    sft_batch: int
    undertrained_steps: int
    hot_lr: float
    lora_lr: float = 5e-3  # LoRA trains far fewer weights: a higher rate, as LoRA recipes use


# Head size hidden/heads must be one vLLM's CPU attention supports (32, 64, 80, 96, 128, …) so that the lab's
# checkpoints also run under the vLLM engine; both sizes use 32.
SIZES: dict[str, LabSize] = {
    # Built inside the test session (< 60 s on 2 cores); small but with clearly non-chance knowledge.
    "test": LabSize(
        n_people=120,
        docs_per_person=6,
        vocab_size=800,
        hidden=96,
        layers=2,
        heads=3,
        block=128,
        pretrain_steps=700,
        pretrain_lr=1e-2,
        pretrain_batch=8,
        sft_steps=150,
        sft_lr=1e-3,
        sft_batch=16,
        undertrained_steps=6,
        hot_lr=3e-2,
    ),
    # `make demo` (< 5 min): the reference recipe (hidden 128, 2 layers, ~1.2k BPE, 300 people).
    "demo": LabSize(
        n_people=300,
        docs_per_person=8,
        vocab_size=1200,
        hidden=128,
        layers=2,
        heads=4,
        block=128,
        pretrain_steps=1800,
        pretrain_lr=8e-3,
        pretrain_batch=8,
        sft_steps=400,
        sft_lr=1e-3,
        sft_batch=16,
        undertrained_steps=20,
        hot_lr=3e-2,
    ),
}

VARIANTS = ("sft-healthy", "sft-conflict", "sft-undertrained", "sft-hot")
# PEFT adapter folders on the lab base (adapter_config.json + adapter_model.safetensors), with checkpoints.
ADAPTERS = ("sft-conflict-lora",)
# Trained only to calibrate `sftdebug risk`: conflict shares between healthy (0) and sft-conflict (0.5), and one
# with rows about people pretraining never mentioned. Each one's narrow rate is measured into lab.json.
CALIBRATION = ("sft-conflict-10", "sft-conflict-25", "sft-unknown")


def train_tokenizer(docs: list[str], vocab_size: int) -> Any:
    """Byte-level BPE trained on the corpus, wrapped as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOT, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(docs, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOT, pad_token=PAD, model_max_length=2 * 128)


def build_base(out: Path, world: World, size: LabSize, seed: int, progress: Progress) -> dict[str, Any]:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from sftdebug.training import TrainConfig, pack_blocks, tail_mean, train_lm

    docs = pretraining_docs(world, size.docs_per_person, seed)
    tokenizer = train_tokenizer(docs, size.vocab_size)
    stream: list[int] = []
    for doc in docs:
        stream += tokenizer(doc, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    blocks = pack_blocks(stream, size.block)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=size.hidden,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        num_key_value_heads=size.heads,
        intermediate_size=4 * size.hidden,
        max_position_embeddings=2 * size.block,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    cfg = TrainConfig(steps=size.pretrain_steps, lr=size.pretrain_lr, batch_size=size.pretrain_batch, seed=seed)
    losses = train_lm(model, blocks, cfg, lambda s, loss: progress("pretrain base", s, cfg.steps, f"loss {loss:.3f}"))
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    info = {
        "name": "base",
        "kind": "base",
        "lab_version": LAB_VERSION,
        "params": sum(p.numel() for p in model.parameters()),
        "corpus_tokens": len(stream),
        "blocks": len(blocks),
        "train": asdict(cfg),
        "final_loss": round(tail_mean(losses, 20), 4),
    }
    write_json_atomic(out / MODEL_INFO, info)
    return info


def _sft_recipes(size: LabSize) -> dict[str, dict[str, Any]]:
    return {
        "sft-healthy": {
            "conflict_share": 0.0,
            "steps": size.sft_steps,
            "lr": size.sft_lr,
            "purpose": "healthy SFT: masked prompts, trained eos, enough steps",
        },
        "sft-conflict": {
            "conflict_share": 0.5,
            "steps": size.sft_steps,
            "lr": size.sft_lr,
            "purpose": "half of the SFT answers contradict pretraining: planted narrow hallucinations",
            "keep_checkpoints": 4,
        },
        "sft-conflict-lora": {
            "conflict_share": 0.5,
            "steps": size.sft_steps,
            "lr": size.lora_lr,
            "lora": {"rank": 16, "alpha": 32},
            "purpose": "sft-conflict's data trained as a LoRA adapter (PEFT, rank 16, all linear layers, role-token "
            "rows trained): planted narrow hallucinations behind an adapter folder",
            "keep_checkpoints": 4,
        },
        "sft-conflict-10": {
            "conflict_share": 0.1,
            "steps": size.sft_steps,
            "lr": size.sft_lr,
            "purpose": "calibration: 10% of the SFT answers contradict pretraining",
        },
        "sft-conflict-25": {
            "conflict_share": 0.25,
            "steps": size.sft_steps,
            "lr": size.sft_lr,
            "purpose": "calibration: 25% of the SFT answers contradict pretraining",
        },
        "sft-unknown": {
            "conflict_share": 0.0,
            "unknown_share": 0.25,
            "steps": size.sft_steps,
            "lr": size.sft_lr,
            "purpose": "calibration: true answers plus 25% more rows about people pretraining never mentioned",
        },
        "sft-undertrained": {
            "conflict_share": 0.0,
            "steps": size.undertrained_steps,
            "lr": size.sft_lr,
            "purpose": "too few steps: answer format and eos not learned",
        },
        "sft-hot": {
            "conflict_share": 0.0,
            "steps": size.sft_steps,
            "lr": size.hot_lr,
            "purpose": "learning rate far too high: prior knowledge damaged",
        },
    }


def build_sft(
    base: Path, out: Path, name: str, world: World, size: LabSize, seed: int, progress: Progress
) -> dict[str, Any]:
    from sftdebug.training import LoraSpec, TrainConfig, fine_tune, load_for_sft, tail_mean, with_lora

    recipe = _sft_recipes(size)[name]
    base_rows = int(json.loads((base / "config.json").read_text(encoding="utf-8"))["vocab_size"])
    model, tokenizer = load_for_sft(base)
    lora = LoraSpec(**recipe["lora"]) if "lora" in recipe else None
    if lora:  # the role tokens load_for_sft added are rows past the base's vocabulary: trained with the adapter
        model = with_lora(model, lora, range(base_rows, len(tokenizer)), seed)
    unknown = recipe.get("unknown_share", 0.0)
    convs, conflicts = sft_conversations(world, recipe["conflict_share"], seed=seed, unknown_share=unknown)
    n_sft = sum(f.split == "sft" for f in world.facts)
    new = [f.id for f in unknown_facts(world, round(unknown * n_sft), seed)]
    data = LabLayout(out.parent).data_of(name)
    data.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(data, [{"messages": c} for c in convs])
    cfg = TrainConfig(steps=recipe["steps"], lr=recipe["lr"], batch_size=size.sft_batch, seed=seed)
    keep = recipe.get("keep_checkpoints", 0)
    steps = sorted({max(1, round(cfg.steps * (i + 1) / keep)) for i in range(keep)})
    ckpt_dir = LabLayout(out.parent).checkpoints(name)
    losses = fine_tune(model, tokenizer, convs, cfg, out, progress, name, checkpoints=steps, checkpoint_dir=ckpt_dir)
    if lora:  # the base as a path relative to each adapter folder: the lab can move (engines/adapter.py)
        for folder in [out, *(ckpt_dir / f"checkpoint-{s}" for s in steps)]:
            _relative_base(folder, base)
    info = {
        "name": name,
        "kind": "sft",
        "lab_version": LAB_VERSION,
        "base": "../base",
        "purpose": recipe["purpose"],
        "train": asdict(cfg),
        **({"lora": asdict(lora)} if lora else {}),
        "n_conversations": len(convs),
        "final_loss": round(tail_mean(losses, 20), 4),
        "planted": {
            "conflict_share": recipe["conflict_share"],
            "conflicts": conflicts,
            "unknown_share": unknown,
            "unknown_facts": new,
            # of the distinct facts in the data: the x of the risk calibration curve
            "risky_share": (len(conflicts) + len(new)) / (n_sft + len(new)),
        },
        **({"checkpoints": [str(ckpt_dir / f"checkpoint-{s}") for s in steps]} if steps else {}),
        "sft_fact_ids": sorted(f.id for f in world.facts if f.split == "sft"),
    }
    write_json_atomic(out / MODEL_INFO, info)
    return info


def _relative_base(adapter: Path, base: Path) -> None:
    import os

    path = adapter / "adapter_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = os.path.relpath(base.resolve(), adapter.resolve())
    write_json_atomic(path, config)


def build_lab(
    out: str | Path,
    size: str = "test",
    seed: int = 0,
    progress: Progress = no_progress,
    calibration: bool = True,
) -> dict[str, Any]:
    """Build the whole lab into `out` (see module docstring). Returns the top-level lab.json content.

    Trains with pinned numerics (core/numerics.py) so every machine builds the same weights; a process that
    loaded torch unpinned builds in a pinned child process instead. Without `calibration` the three risk
    calibration models and their runs are left out (what only `sftdebug risk`'s lab prediction needs); building
    with it later over such a lab trains just those, the other models are kept."""
    from sftdebug.core import numerics

    if size not in SIZES:
        raise ValueError(f"unknown lab size {size!r}")
    spec = SIZES[size]
    root = Path(out)
    numerics.pin()
    if not numerics.is_pinned():
        return _build_in_pinned_process(root, size, seed, calibration)
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    layout = LabLayout(root)
    models = _reusable_models(layout, size, seed)
    world = make_world(spec.n_people, seed)
    if "base" not in models:
        models = {"base": build_base(root / "base", world, spec, seed, progress)}
    for name in VARIANTS + ADAPTERS + (CALIBRATION if calibration else ()):
        if name not in models:
            models[name] = build_sft(root / "base", root / name, name, world, spec, seed, progress)
    write_jsonl(layout.probes, probe_records(world))
    write_jsonl(layout.sft_data, [{"messages": c} for c in sft_conversations(world, seed=seed)[0]])
    # Fresh documents from the pretraining distribution: perplexity drift after SFT is measured on these.
    reference = pretraining_docs(world, docs_per_person=1, seed=seed + 1)[:200]
    layout.reference.write_text("\n".join(reference) + "\n", encoding="utf-8")
    info = {
        "lab_version": LAB_VERSION,
        "size": size,
        "seed": seed,
        "spec": asdict(spec),
        "n_facts": len(world.facts),
        "n_people": len(world.people),
        "models": models,
        "calibration": calibration,
        "risk_calibration": calibrate_risk(layout, models, progress) if calibration else [],
        "build_seconds": round(time.perf_counter() - t0, 1),
        "numerics": numerics.describe(),
        "weights_sha256": weights_sha256(root, models),
    }
    write_json_atomic(layout.info, info)
    return info


def _build_in_pinned_process(root: Path, size: str, seed: int, calibration: bool) -> dict[str, Any]:
    import subprocess
    import sys

    from sftdebug.core.numerics import pinned_env

    argv = ["lab", "build", "--size", size, "--out", str(root), "--seed", str(seed)]
    argv += [] if calibration else ["--no-calibration"]
    subprocess.run([sys.executable, "-m", "sftdebug", *argv], env=pinned_env(), check=True)
    return dict(json.loads(LabLayout(root).info.read_text(encoding="utf-8")))


def _reusable_models(layout: LabLayout, size: str, seed: int) -> dict[str, Any]:
    """The models of a complete earlier build of the same recipe in this folder (kept when calibration is added
    to a lab built without it); nothing when anything differs."""
    if not layout.info.exists():
        return {}
    info = json.loads(layout.info.read_text(encoding="utf-8"))
    same = (info.get("lab_version"), info.get("size"), info.get("seed")) == (LAB_VERSION, size, seed)
    if not same or not info.get("weights_sha256"):
        return {}
    models: dict[str, Any] = info["models"]
    return models if weights_sha256(layout.root, models) == info["weights_sha256"] else {}


def weights_sha256(root: Path, models: dict[str, Any]) -> dict[str, str]:
    """sha256 of each model's safetensors: two builds are the same lab exactly when these are equal."""
    out = {}
    for name in models:
        h = hashlib.sha256()
        for f in sorted((root / name).glob("*.safetensors")):
            h.update(f.read_bytes())
        out[name] = h.hexdigest()
    return out


def calibrate_risk(layout: LabLayout, models: dict[str, Any], progress: Progress) -> list[dict[str, Any]]:
    """The curve `sftdebug risk` reads its prediction from. For every SFT model trained at a known share of risky
    rows (conflicting or unknown): its narrow-hallucination rate, measured by the hallucination pipeline on the
    lab's probes (the base phase shared), against the shares `risk` itself measures on its training data before
    training (DIR/calibration/risk/<model>) — so a prediction reads the curve on the scale `risk` measures (which
    also counts the base's own confident errors as conflicts), not on the planted share."""
    from functools import partial

    from sftdebug.core.runs import RunFolder
    from sftdebug.engines import load_engine
    from sftdebug.facts.probes import load_probes
    from sftdebug.hallucination import HallucinationSettings, run_hallucination

    names = [
        n for n in ("sft-healthy", "sft-conflict-10", "sft-conflict-25", "sft-conflict", "sft-unknown") if n in models
    ]
    probes = load_probes(layout.probes)
    folder = layout.root / "calibration"
    curve = []
    with RunFolder.open(folder, "hallucination", {"purpose": "risk calibration"}, overwrite=True) as shared:
        base_journal = shared.journal("base")
        for name in names:
            with RunFolder.open(folder / name, "hallucination", {"sft": name}, overwrite=True) as run:
                s = run_hallucination(
                    partial(load_engine, "hf", str(layout.model("base"))),
                    partial(load_engine, "hf", str(layout.model(name))),
                    probes,
                    HallucinationSettings(eos_recheck=0),
                    run,
                    progress,
                    base_journal,
                )
            planted = models[name]["planted"]
            curve.append(
                {
                    "model": name,
                    "risky_share": planted["risky_share"],
                    "conflict_share": planted["conflict_share"],
                    "unknown_share": planted["unknown_share"],
                    "narrow_rate": s["narrow_hallucination_rate"],
                    "ci95": s["narrow_hallucination_ci95"],
                }
            )
    measure_risk(layout, curve, probes, progress)
    return curve


def measure_risk(layout: LabLayout, curve: list[dict[str, Any]], probes: list[Any], progress: Progress) -> None:
    """`sftdebug risk` on each calibration point's training data (DIR/calibration/risk/<model>), its shares stored
    in the point as "risk". The risk diagnostic's own measurement (`sftdebug.risk.assess`), one base engine shared."""
    from sftdebug.core.runs import RunFolder
    from sftdebug.engines import load_engine
    from sftdebug.risk import RiskSettings, assess
    from sftdebug.sftdata.formats import load_sft_file

    folder = layout.root / "calibration"
    engine = load_engine("hf", str(layout.model("base")))
    try:
        for point in curve:
            data = load_sft_file(layout.data_of(point["model"]))
            out = folder / "risk" / point["model"]
            args = {"base": str(layout.model("base")), "data": str(layout.data_of(point["model"]))}
            with RunFolder.open(out, "risk", args, overwrite=True) as run:
                measured = assess(engine, data, probes, RiskSettings(), run, progress)
            point["risk"] = {k: measured[k] for k in ("conflicts_share", "unknown_share", "risky_share")}
    finally:
        engine.close()


def lab_is_built(root: str | Path, size: str, calibration: bool = True) -> bool:
    """True when `root` holds a complete lab of this size and version (lab.json is written last), with the risk
    calibration when it is asked for."""
    path = LabLayout(Path(root)).info
    if not path.exists():
        return False
    info = json.loads(path.read_text(encoding="utf-8"))
    return bool(
        info.get("size") == size
        and info.get("lab_version") == LAB_VERSION
        and all(name in info.get("models", {}) for name in VARIANTS + ADAPTERS)
        and (info.get("calibration", True) or not calibration)
    )
