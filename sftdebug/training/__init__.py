"""sftdebug's own minimal trainer (torch), shared by the lab (which trains its model organisms with it) and
`sftdebug overfit run` (which trains one checkpoint per setting): causal-LM pretraining on packed blocks, SFT with
the loss mask of sftdata/encode.py, optionally as a PEFT LoRA adapter.

    from sftdebug.training import TrainConfig, fine_tune, load_for_sft
    model, tokenizer = load_for_sft("reports/lab-test/base")
    losses = fine_tune(model, tokenizer, conversations, TrainConfig(steps=400, lr=1e-3), Path("out/model"))

    trainer.py  the training loops, the LoRA recipe, and a base made ready for SFT (role tokens, chat template)

Importing this package loads torch: import it inside the functions that train.
"""

from __future__ import annotations

from sftdebug.training.trainer import (
    LoraSpec,
    SFTExample,
    TrainConfig,
    add_tokens,
    answer_only_loss,
    fine_tune,
    load_for_sft,
    pack_blocks,
    sft_example,
    tail_mean,
    train_lm,
    train_sft,
    with_lora,
)

__all__ = [
    "LoraSpec",
    "SFTExample",
    "TrainConfig",
    "add_tokens",
    "answer_only_loss",
    "fine_tune",
    "load_for_sft",
    "pack_blocks",
    "sft_example",
    "tail_mean",
    "train_lm",
    "train_sft",
    "with_lora",
]
