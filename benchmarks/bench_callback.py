"""What the training callback costs: TRL's SFTTrainer on the demo lab's conflict data, the same run without and
with SFTDebugCallback (every 50 steps, 64 stratified probes, the base phase at train begin, 2 batches linted),
in one process, timed around `trainer.train()`. Then on a real model: a LoRA on Gemma-3-270m (TRL with
`peft_config`) trained on contradicting answers to built-in facts, the callback with no base given (the base
phase on the model itself, adapter disabled): what it logged and that its run folder renders."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from common import lab

from sftdebug.lab.trl_demo import EVERY, PROBES, STEPS, train_sft_conflict

GEMMA_STEPS, GEMMA_PROBES = 40, 48


def _gemma(tmp: Path) -> str:
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from sftdebug.facts.probes import builtin_probe_files, load_probe_files
    from sftdebug.integrations.transformers import SFTDebugCallback
    from sftdebug.lab.real import GEMMA3_CHAT_TEMPLATE, real_model
    from sftdebug.lab.real_sft import conversations
    from sftdebug.training import load_for_sft

    model, tokenizer = load_for_sft(real_model("gemma-3-270m"), chat_template=GEMMA3_CHAT_TEMPLATE)
    probes = load_probe_files([str(p) for p in builtin_probe_files("en")])
    rows, planted = conversations(probes[:256], 0.5, seed=0)
    args = SFTConfig(
        output_dir=str(tmp / "gemma"), max_steps=GEMMA_STEPS, per_device_train_batch_size=8, learning_rate=1e-3,
        logging_steps=1000, save_strategy="no", report_to=[], use_cpu=True, bf16=False, seed=0, disable_tqdm=True,
        assistant_only_loss=False,
    )  # fmt: skip
    trainer = SFTTrainer(
        model=model, args=args, processing_class=tokenizer,
        train_dataset=Dataset.from_list([{"messages": r} for r in rows]),
        peft_config=LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"),
    )  # fmt: skip
    live = tmp / "gemma-live"
    trainer.add_callback(
        SFTDebugCallback(str(live), trainer=trainer, every_n_steps=GEMMA_STEPS // 2, max_probes=GEMMA_PROBES,
                         builtin="en", lint_batches=2)
    )  # fmt: skip
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    summary = json.loads((live / "summary.json").read_text(encoding="utf-8"))
    logged = [h for h in trainer.state.log_history if "sftdebug/narrow_hallucination_rate" in h]
    rows_md = "".join(
        f"| {h['step']} | {h['sftdebug/narrow_hallucination_rate']:.1%} "
        f"[{h['sftdebug/narrow_hallucination_rate_low']:.1%}, {h['sftdebug/narrow_hallucination_rate_high']:.1%}] "
        f"| {h['sftdebug/sft_accuracy']:.1%} | {h['sftdebug/eos_rate']:.1%} |\n"
        for h in logged
    )
    rendered = (live / "report.html").is_file() and all(
        (live / "checkpoints" / c["name"] / "report.html").is_file() for c in summary["checkpoints"]
    )
    return (
        f"\n### Gemma-3-270m LoRA (TRL `peft_config`, {GEMMA_STEPS} steps of 8 rows, {len(planted)} of {len(rows)} "
        f"answers contradicting the fact), no base given\n\n"
        f"The callback's base phase ran on the LoRA model with its adapter disabled; checks on {GEMMA_PROBES} "
        f"stratified built-in English probes every {GEMMA_STEPS // 2} steps; train() took {seconds:.0f} s with them. "
        "What it logged through `trainer.log`:\n\n"
        "| step | narrow rate [95% CI] | SFT accuracy | eos rate |\n|---|---|---|---|\n"
        + rows_md
        + f"\nRun folder rendered (trend + per-step reports): {'yes' if rendered else 'NO'}.\n"
    )


def run() -> str:
    root = lab("demo", calibration=False)
    with tempfile.TemporaryDirectory() as tmp:
        plain, _ = train_sft_conflict(root, Path(tmp) / "plain", callback=False)
        watched, _ = train_sft_conflict(root, Path(tmp) / "watched", callback=True)
        summary = json.loads((Path(tmp) / "watched" / "summary.json").read_text(encoding="utf-8"))
        gemma = _gemma(Path(tmp))
    rates = " → ".join(f"{c['narrow_hallucination_rate']:.0%}" for c in summary["checkpoints"])
    return (
        "## Training callback: SFTTrainer with vs without SFTDebugCallback\n\n"
        f"demo lab, TRL SFTTrainer, {STEPS} steps of 16 conversations (sft-conflict data), CPU fp32; the callback "
        f"every {EVERY} steps on {PROBES} probes (base phase once at train begin, 2 batches linted).\n\n"
        "| run | train() seconds |\n|---|---|\n"
        f"| without the callback | {plain:.1f} |\n| with the callback | {watched:.1f} |\n\n"
        f"**Overhead: {watched / plain:.2f}× the training time** ({watched - plain:.1f} s for "
        f"{summary['n_checkpoints']} evaluations). Narrow-hallucination rate over the steps: {rates}.\n" + gemma
    )
