"""What a LoRA saves when fine-tuning a real model on 2 CPU cores: Gemma-3-270m trained on the real lab's recipe
(Gemma chat rows of built-in facts, batch 16, embeddings frozen, loss on answer tokens only) in full and as the lab's
rank-16 LoRA on all linear layers, a few steps of each, alternated twice in one run so the machine's noise falls on
both. Seconds per step exclude each bout's first step (allocation, warm-up). Needs `make real`.
"""

from __future__ import annotations

import itertools
import time

from sftdebug.facts.probes import builtin_probe_files, load_probes
from sftdebug.lab.real import GEMMA3_CHAT_TEMPLATE, real_model
from sftdebug.lab.real_sft import RealRecipe, conversations

STEPS, ROUNDS = 6, 2


def _bout(lora: bool, rows: list, recipe: RealRecipe) -> list[float]:
    """Seconds of each step after the first of one short training run."""
    from sftdebug.training import LoraSpec, TrainConfig, load_for_sft, sft_example, train_sft, with_lora

    model, tokenizer = load_for_sft(real_model("gemma-3-270m"), chat_template=GEMMA3_CHAT_TEMPLATE)
    model.get_input_embeddings().weight.requires_grad_(False)
    if lora:
        model = with_lora(model, LoraSpec(), seed=recipe.seed)
    cfg = TrainConfig(steps=STEPS, lr=recipe.lora_lr if lora else recipe.lr, batch_size=recipe.batch_size)
    stamps: list[float] = []
    examples = [sft_example(tokenizer, r) for r in rows]
    train_sft(model, examples, cfg, int(tokenizer.pad_token_id), lambda *_: stamps.append(time.perf_counter()), True)
    return [b - a for a, b in itertools.pairwise(stamps)]


def run() -> str:
    recipe = RealRecipe()
    rows, _ = conversations(load_probes(builtin_probe_files("en")[0])[:128], 0.5, recipe.seed)
    steps: dict[str, list[float]] = {"full": [], "LoRA": []}
    for _ in range(ROUNDS):
        for name in steps:
            steps[name] += _bout(name == "LoRA", rows, recipe)
    per = {k: sum(v) / len(v) for k, v in steps.items()}
    return (
        "## Fine-tuning Gemma-3-270m on 2 CPU cores: full vs LoRA (the real lab's recipe)\n\n"
        "| training | steps timed | seconds per step |\n|---|---|---|\n"
        + "\n".join(f"| {k} | {len(steps[k])} | {per[k]:.2f} |" for k in steps)
        + f"\n\nA LoRA step takes **{per['LoRA'] / per['full']:.2f}×** the time of a full step (batch "
        f"{recipe.batch_size}, embeddings frozen in both; {ROUNDS} alternating bouts of {STEPS} steps each).\n"
    )
