"""SFT on a lab's conflict data with TRL's SFTTrainer, watched by SFTDebugCallback: the demo's training step
(its live trend run shows in the demo's index) and what `make bench` times with and without the callback.

    seconds, trainer = train_sft_conflict(Path("reports/lab-demo"), Path("reports/demo/training-callback"))
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

STEPS, EVERY, PROBES = 200, 50, 64


def train_sft_conflict(lab: Path, out: Path, callback: bool = True, steps: int = STEPS) -> tuple[float, Any]:
    """`steps` steps of 16 conversations on the lab's sft-conflict data from its base (CPU fp32); with `callback`,
    checks every EVERY steps on PROBES probes into `out` (2 batches linted first). Returns (train() seconds, the
    trainer)."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from sftdebug.core.labs import LabLayout
    from sftdebug.integrations.transformers import SFTDebugCallback
    from sftdebug.training import load_for_sft

    model, tokenizer = load_for_sft(lab / "base")
    data = LabLayout(lab).data_of("sft-conflict").read_text(encoding="utf-8").splitlines()
    args = SFTConfig(
        output_dir=str(out / "train"), max_steps=steps, per_device_train_batch_size=16, learning_rate=1e-3,
        logging_steps=1000, save_strategy="no", report_to=[], use_cpu=True, bf16=False, seed=0, disable_tqdm=True,
    )  # fmt: skip
    dataset = Dataset.from_list([json.loads(x) for x in data])
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    if callback:
        trainer.add_callback(
            SFTDebugCallback(str(out), base=str(lab / "base"), trainer=trainer, every_n_steps=EVERY,
                             max_probes=PROBES, lint_batches=2)
        )  # fmt: skip
    start = time.perf_counter()
    trainer.train()
    return time.perf_counter() - start, trainer
