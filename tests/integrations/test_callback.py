"""The training callback on the lab: TRL's SFTTrainer on the conflict data with SFTDebugCallback. What it records
at the last step must be what a separate `sftdebug hallucination` run of the saved final checkpoint finds; a
rate over `stop_above` stops training; a PEFT model needs no base; the batch lint catches a collator that masks
the eos (pad == eos) before the first step and passes TRL's own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")

from datasets import Dataset
from trl import SFTConfig, SFTTrainer

from sftdebug.integrations.transformers import BatchLintFailed, SFTDebugCallback
from sftdebug.training import load_for_sft

pytestmark = [
    pytest.mark.slow,  # TRL trains the lab base (30 steps, then more) with hallucination runs inside the loop
    pytest.mark.xdist_group("callback"),  # its module-scoped runs are built once: the whole module on one worker
]

N_PROBES = 40


def _trainer(lab: Path, out: Path, steps: int, model: Any = None, tokenizer: Any = None, **extra: Any) -> SFTTrainer:
    if model is None:
        model, tokenizer = load_for_sft(lab / "base")
    rows = [json.loads(line) for line in (lab / "data" / "sft-conflict.jsonl").read_text().splitlines()]
    args = SFTConfig(
        output_dir=str(out),
        max_steps=steps,
        per_device_train_batch_size=16,
        learning_rate=3e-3,
        lr_scheduler_type="constant",
        logging_steps=1000,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        bf16=False,  # fp32, as the saved checkpoint is read back: the same numbers, not only the same verdicts
        seed=0,
        **extra,
    )
    evals = Dataset.from_list(rows[:16]) if "eval_strategy" in extra else None
    return SFTTrainer(
        model=model, args=args, train_dataset=Dataset.from_list(rows), eval_dataset=evals, processing_class=tokenizer
    )


@pytest.fixture(scope="module")
def probe_file(lab: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("probes") / "probes.jsonl"
    path.write_text("\n".join((lab / "probes.jsonl").read_text().splitlines()[:N_PROBES]) + "\n")
    return path


@pytest.fixture(scope="module")
def trained(lab: Path, probe_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """30 steps with the callback every 15, then the final checkpoint saved."""
    tmp = tmp_path_factory.mktemp("callback")
    trainer = _trainer(lab, tmp / "train", 30)
    callback = SFTDebugCallback(
        str(tmp / "live"), base=str(lab / "base"), trainer=trainer, every_n_steps=15, probes=[str(probe_file)],
        max_probes=None, lint_batches=2, fail_on=("eos_trained",),
    )  # fmt: skip
    trainer.add_callback(callback)
    trainer.train()
    trainer.save_model(str(tmp / "final"))
    trainer.processing_class.save_pretrained(str(tmp / "final"))
    return {"tmp": tmp, "trainer": trainer, "callback": callback}


def test_last_step_equals_a_run_of_the_saved_checkpoint(lab: Path, probe_file: Path, trained: dict) -> None:
    from sftdebug.core.runs import read_records, read_summary
    from sftdebug.hallucination import HallucinationConfig, run

    live = trained["tmp"] / "live"
    summary = read_summary(live)
    assert summary["kind"] == "hallucination_trend" and [c["step"] for c in summary["checkpoints"]] == [15, 30]
    separate = run(
        HallucinationConfig(base=str(lab / "base"), sft=str(trained["tmp"] / "final"), probes=[str(probe_file)],
                            out=str(trained["tmp"] / "separate"))
    )  # fmt: skip
    last = {r["probe_id"]: r for r in read_records(live / "checkpoints" / "01-step-30")}
    again = {r["probe_id"]: r for r in separate.records().to_dict("records")}
    assert len(last) == len(again) == N_PROBES
    assert {k: r["verdict"] for k, r in last.items()} == {k: r["verdict"] for k, r in again.items()}
    assert {k: r["sft_text"] for k, r in last.items()} == {k: r["sft_text"] for k, r in again.items()}
    assert summary["narrow_hallucination_rate"] == separate.summary["narrow_hallucination_rate"]
    # the trainer's own log (every report_to backend reads it) has the rates, with the interval
    logged = [h for h in trained["trainer"].state.log_history if "sftdebug/narrow_hallucination_rate" in h]
    assert [h["step"] for h in logged] == [15, 30]
    assert logged[-1]["sftdebug/narrow_hallucination_rate"] == pytest.approx(summary["narrow_hallucination_rate"])
    low, high = (
        logged[-1]["sftdebug/narrow_hallucination_rate_low"],
        logged[-1]["sftdebug/narrow_hallucination_rate_high"],
    )
    assert low <= summary["narrow_hallucination_rate"] <= high
    assert {"sftdebug/eos_rate", "sftdebug/sft_accuracy", "sftdebug/format_loss"} <= set(logged[-1])
    html = (live / "report.html").read_text()
    assert "01-step-30" in html and (live / "checkpoints" / "00-step-15" / "report.html").is_file()
    # the correct collator (TRL's) passed the batch lint it was asked to fail on
    checks = {c["id"]: c["status"] for c in trained["callback"].lint.summary["checks"]}
    assert checks["eos_trained"] == "pass" and checks["nothing_trained"] == "pass"
    assert (live / "batch-lint" / "report.html").is_file()


def test_a_rate_over_its_limit_stops_training(lab: Path, probe_file: Path, trained: dict, tmp_path: Path) -> None:
    trainer = _trainer(lab, tmp_path / "train", 20)
    callback = SFTDebugCallback(
        str(tmp_path / "live"), base_run=str(trained["tmp"] / "live"), trainer=trainer, every_n_steps=5,
        probes=[str(probe_file)], max_probes=None, stop_above={"narrow_hallucination_rate": 0.0},
    )  # fmt: skip
    trainer.add_callback(callback)
    trainer.train()
    assert trainer.state.global_step == 5  # stopped at the first check
    summary = json.loads((tmp_path / "live" / "summary.json").read_text())
    assert summary["stopped"]["step"] == 5 and summary["stopped"]["metric"] == "narrow_hallucination_rate"
    # base_run: the earlier run's base phase was reused, not rerun (same answers, no model loaded for it)
    base = lambda p: {json.loads(x)["key"]: json.loads(x).get("greedy") for x in p.read_text().splitlines()}  # noqa: E731
    assert base(tmp_path / "live" / "base.jsonl") == base(trained["tmp"] / "live" / "base.jsonl")


def test_a_peft_model_needs_no_base(lab: Path, probe_file: Path, trained: dict, tmp_path: Path) -> None:
    """No base given: the base phase runs on the model being trained with its adapter disabled, and finds what
    the plain base finds. No every_n_steps: checked at each of the trainer's evaluations and at the end."""
    from peft import LoraConfig, get_peft_model

    model, tokenizer = load_for_sft(lab / "base")
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM"))
    trainer = _trainer(lab, tmp_path / "train", 4, model, tokenizer, eval_strategy="steps", eval_steps=3)
    callback = SFTDebugCallback(str(tmp_path / "live"), trainer=trainer, probes=[str(probe_file)], max_probes=None)
    trainer.add_callback(callback)
    trainer.train()
    greedy = lambda p: {json.loads(x)["key"]: json.loads(x).get("greedy") for x in p.read_text().splitlines()}  # noqa: E731
    assert greedy(tmp_path / "live" / "base.jsonl") == greedy(trained["tmp"] / "live" / "base.jsonl")
    summary = json.loads((tmp_path / "live" / "summary.json").read_text())
    assert [c["step"] for c in summary["checkpoints"]] == [3, 4]  # at the trainer's evaluation, and at the end


def test_a_collator_that_masks_eos_fails_before_the_first_step(lab: Path, tmp_path: Path) -> None:
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    model, tokenizer = load_for_sft(lab / "base")
    tokenizer.pad_token = tokenizer.eos_token  # the common set-up: "no pad token? use the eos"
    rows = [json.loads(line) for line in (lab / "data" / "sft-conflict.jsonl").read_text().splitlines()[:64]]
    data = [tokenizer(tokenizer.apply_chat_template(r["messages"], tokenize=False)) for r in rows]
    trainer = Trainer(
        model=model,
        args=TrainingArguments(str(tmp_path / "train"), max_steps=3, per_device_train_batch_size=8, report_to=[],
                               use_cpu=True, save_strategy="no"),
        train_dataset=data,
        data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),  # labels of every pad token -100
        processing_class=tokenizer,
    )  # fmt: skip
    trainer.add_callback(
        SFTDebugCallback(str(tmp_path / "live"), base=str(lab / "base"), lint_batches=2, fail_on=("eos_trained",))
    )
    with pytest.raises(BatchLintFailed, match="pad token is the eos") as err:
        trainer.train()
    assert trainer.state.global_step == 0 and "\n" not in str(err.value)
    summary = json.loads((tmp_path / "live" / "batch-lint" / "summary.json").read_text())
    checks = {c["id"]: c["status"] for c in summary["checks"]}
    assert checks["eos_trained"] == "fail" and checks["prompt_trained"] == "warn"  # it trains the prompts too
