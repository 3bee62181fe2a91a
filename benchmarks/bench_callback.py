"""What the training callback costs: TRL's SFTTrainer on the demo lab's conflict data, the same run without and
with SFTDebugCallback (every 50 steps, 64 stratified probes, the base phase at train begin, 2 batches linted),
in one process, timed around `trainer.train()`."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from common import lab

STEPS, EVERY, PROBES = 200, 50, 64


def _train(root: Path, out: Path, callback: bool) -> tuple[float, Any]:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from sftdebug.integrations.transformers import SFTDebugCallback
    from sftdebug.lab.train import load_for_sft

    model, tokenizer = load_for_sft(root / "base")
    rows = [json.loads(x) for x in (root / "data" / "sft-conflict.jsonl").read_text(encoding="utf-8").splitlines()]
    args = SFTConfig(
        output_dir=str(out / "train"), max_steps=STEPS, per_device_train_batch_size=16, learning_rate=1e-3,
        logging_steps=1000, save_strategy="no", report_to=[], use_cpu=True, bf16=False, seed=0,
        disable_tqdm=True,
    )  # fmt: skip
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    if callback:
        trainer.add_callback(
            SFTDebugCallback(str(out / "live"), base=str(root / "base"), trainer=trainer, every_n_steps=EVERY,
                             max_probes=PROBES, lint_batches=2)
        )  # fmt: skip
    start = time.perf_counter()
    trainer.train()
    return time.perf_counter() - start, trainer


def run() -> str:
    root = lab("demo", calibration=False)
    with tempfile.TemporaryDirectory() as tmp:
        plain, _ = _train(root, Path(tmp) / "plain", callback=False)
        watched, _ = _train(root, Path(tmp) / "watched", callback=True)
        summary = json.loads((Path(tmp) / "watched" / "live" / "summary.json").read_text(encoding="utf-8"))
    rates = " → ".join(f"{c['narrow_hallucination_rate']:.0%}" for c in summary["checkpoints"])
    return (
        "## Training callback: SFTTrainer with vs without SFTDebugCallback\n\n"
        f"demo lab, TRL SFTTrainer, {STEPS} steps of 16 conversations (sft-conflict data), CPU fp32; the callback "
        f"every {EVERY} steps on {PROBES} probes (base phase once at train begin, 2 batches linted).\n\n"
        "| run | train() seconds |\n|---|---|\n"
        f"| without the callback | {plain:.1f} |\n| with the callback | {watched:.1f} |\n\n"
        f"**Overhead: {watched / plain:.2f}× the training time** ({watched - plain:.1f} s for "
        f"{summary['n_checkpoints']} evaluations). Narrow-hallucination rate over the steps: {rates}.\n"
    )
