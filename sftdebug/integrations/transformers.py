"""Watch knowledge loss while SFT trains: a `transformers.TrainerCallback` for transformers' Trainer and TRL's
SFTTrainer (`pip install 'sftdebug[train]'`).

    trainer = SFTTrainer(model=model, args=SFTConfig(...), train_dataset=data, processing_class=tokenizer)
    trainer.add_callback(SFTDebugCallback("runs/sft-live", base="google/gemma-3-270m", trainer=trainer,
                                          every_n_steps=200, stop_above={"narrow_hallucination_rate": 0.1},
                                          lint_batches=4, fail_on=("eos_trained",)))

- The base phase runs once, at train begin: on `base` (loaded, run, freed), from an earlier hallucination run's
  base journal (`base_run`), or — for a PEFT model and neither given — on the model itself with its adapters
  disabled.
- Every `every_n_steps` steps (default: at each evaluation), and at train end, the SFT phase runs on the model in
  memory (eval mode, no grad, the trainer's device and tokenizer, an adapter never merged; train mode restored)
  over a fixed, stratified subset of `max_probes` probes. The run folder is an ordinary trend run, updated as
  training goes (`sftdebug report OUT` renders it at any time); the rates go through `trainer.log`, so every
  `report_to` backend shows them as `sftdebug/narrow_hallucination_rate` etc.
- `stop_above={"narrow_hallucination_rate": 0.1}` stops training when a rate passes its limit (the trend's
  summary records why); `lint_batches=N` checks N batches from the trainer's own collator with the `sftdebug
  data` checks before the first step, and `fail_on` check ids abort training when they fail.

The run folder is replaced when training starts again, unless `resume=True` (with `trainer.train(
resume_from_checkpoint=...)`: the steps already checked are kept, not redone). Runs on the main process only: with a model sharded across processes (FSDP, ZeRO-3) evaluate saved checkpoints
with `sftdebug watch` instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

from sftdebug.core.errors import UsageError
from sftdebug.engines.config import EngineConfig
from sftdebug.hallucination import HallucinationConfig
from sftdebug.hallucination.api import settings_of

if TYPE_CHECKING:
    from sftdebug.hallucination.live import LiveTrend

STOP_METRICS = ("narrow_hallucination_rate", "format_loss_rate", "knowledge_loss_rate")
LOGGED = {  # summary field -> logged name (under sftdebug/)
    "narrow_hallucination_rate": "narrow_hallucination_rate",
    "sft_accuracy": "sft_accuracy",
    "sft_eos_rate": "eos_rate",
    "format_loss_rate": "format_loss",
    "knowledge_loss_rate": "knowledge_loss",
}


class BatchLintFailed(UsageError):
    """A check named in `fail_on` failed on the trainer's own batches: training stops before its first step."""


class SFTDebugCallback(TrainerCallback):
    """See the module docstring."""

    def __init__(
        self,
        out: str,
        *,
        base: str | None = None,
        base_run: str | None = None,
        trainer: Any = None,
        every_n_steps: int | None = None,
        max_probes: int | None = 64,
        probes: Sequence[str] = (),
        builtin: str = "en,zh",
        stop_above: Mapping[str, float] | None = None,
        lint_batches: int = 0,
        fail_on: Sequence[str] = (),
        max_new_tokens: int = 64,
        system: str | None = None,
        base_prompt: str = "auto",
        seed: int = 0,
        batch_size: int = 16,
        engine: EngineConfig | None = None,
        resume: bool = False,
    ) -> None:
        if base and base_run:
            raise UsageError("give base= or base_run=, not both")
        if every_n_steps is not None and every_n_steps < 1:
            raise UsageError(f"every_n_steps must be >= 1, got {every_n_steps}")
        unknown = sorted(set(stop_above or {}) - set(STOP_METRICS))
        if unknown:
            raise UsageError(f"stop_above: unknown metric {unknown[0]!r}; choose from {', '.join(STOP_METRICS)}")
        if lint_batches < 0:
            raise UsageError(f"lint_batches must be >= 0, got {lint_batches}")
        if fail_on and not lint_batches:
            raise UsageError("fail_on needs lint_batches >= 1: no batch is checked otherwise")
        self.out, self.base, self.base_run, self.trainer = out, base, base_run, trainer
        self.every, self.max_probes, self.stop_above = every_n_steps, max_probes, dict(stop_above or {})
        self.lint_n, self.fail_on, self.batch_size = lint_batches, tuple(fail_on), batch_size
        self.cfg = HallucinationConfig(
            base=base or "",
            sft=out,
            probes=tuple(probes),
            builtin=builtin,
            max_new_tokens=max_new_tokens,
            system=system,
            base_prompt=base_prompt,
            seed=seed,
            engine=engine or EngineConfig(),
            out=out,
            resume=resume,
            overwrite=not resume,
        )
        settings_of(self.cfg)  # bad settings fail here, in one line, before the trainer is built
        self.live: LiveTrend | None = None
        self.evaluated: set[int] = set()
        self.lint: Any = None  # the batch lint's DataResult

    # --- train begin: batch lint, base phase ---------------------------------------------------------------

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        if not state.is_world_process_zero:
            return
        tokenizer = _tokenizer(kw.get("processing_class"))
        if self.lint_n:
            self._lint_batches(tokenizer, model, kw.get("train_dataloader"), args)
        self._start(model, tokenizer)

    def _lint_batches(self, tokenizer: Any, model: Any, loader: Any, args: Any) -> None:
        """N batches built by the trainer's own collator from the first rows of its dataset (its dataloader is not
        iterated: that would move the sampler's random state and the accelerate loader's bookkeeping)."""
        from sftdebug.core.chat import stop_ids
        from sftdebug.data import lint_batches

        if loader is None:
            raise UsageError("lint_batches: the trainer gave no train dataloader")
        size = loader.batch_size or args.per_device_train_batch_size
        rows = _first_rows(loader.dataset, self.lint_n * size)
        batches = [loader.collate_fn(rows[i : i + size]) for i in range(0, len(rows), size)]
        eos_ids = stop_ids(tokenizer, getattr(getattr(model, "generation_config", None), "eos_token_id", None))
        eos = {i: str(tokenizer.convert_ids_to_tokens(i)) for i in sorted(eos_ids)}
        out = Path(self.out) / "batch-lint"
        self.lint = lint_batches(tokenizer, batches, eos, out, f"{len(batches)} batches of the trainer's collator")
        failed = [c for c in self.lint.summary["checks"] if c["status"] == "fail" and c["id"] in self.fail_on]
        if failed:
            c = failed[0]
            raise BatchLintFailed(f"sftdebug batch lint: {c['id']} failed: {c['message']} (report: {self.lint.report})")

    def _start(self, model: Any, tokenizer: Any) -> None:
        from sftdebug.core.chat import render_chat
        from sftdebug.hallucination.live import LiveTrend

        render_chat(tokenizer, [{"role": "user", "content": "?"}])  # no chat template: one line, before any step
        base = self.base or self._base_run_base() or _peft_base(model)
        if base is None:
            raise UsageError(
                "SFTDebugCallback needs the base model: give base= (a folder or hub id) or base_run= (an earlier "
                "hallucination run), or train a PEFT model (its base is the model with the adapter disabled)"
            )
        self.cfg = replace(self.cfg, base=base)
        self.live = LiveTrend(self.cfg, self.max_probes, base_from=self.base_run)
        if self.lint is not None:  # shown on the trend's page (a link: the lint is its own run folder)
            s = self.lint.summary
            self.live.notes["batch_lint"] = {
                "status": s["status"],
                "n_rows": s["n_rows"],
                "report": "batch-lint/report.html",
            }
        was_training = model.training
        try:
            self.live.run_base(lambda: self._open_base(model, tokenizer))
        finally:
            model.train(was_training)

    def _base_run_base(self) -> str | None:
        if not self.base_run:
            return None
        from sftdebug.core.runs import read_config

        args = read_config(self.base_run).get("args", {})
        self.cfg = replace(
            self.cfg,
            probes=tuple(self.cfg.probes or args.get("probes") or ()),
            base_prompt=args.get("base_prompt", self.cfg.base_prompt),
            shots=args.get("shots", self.cfg.shots),
            seed=args.get("seed", self.cfg.seed),
        )
        return str(args.get("base") or "")

    def _open_base(self, model: Any, tokenizer: Any) -> Any:
        import torch

        from sftdebug.engines import load_engine
        from sftdebug.engines.hf import HFEngine

        if self.base_run:
            raise UsageError(f"base_run {self.base_run}: its base phase lacks some of these probes; give base=")
        if self.base is None:  # the PEFT model itself with its adapters disabled
            vocab = _base_vocab(model)
            return HFEngine.from_loaded(self.cfg.base, model, tokenizer, self.batch_size, base=True, base_vocab=vocab)
        threads = torch.get_num_threads()  # the engine sets its own CPU threads; training keeps its own
        try:
            eng = self.cfg.engine
            return load_engine(eng.engine, self.base, **eng.options("base"))
        finally:
            torch.set_num_threads(threads)

    # --- during training ---------------------------------------------------------------------------------

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> Any:
        if self.every and state.global_step % self.every == 0:
            self._evaluate(args, state, control, model, kw.get("processing_class"))
        return control

    def on_evaluate(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> Any:
        if self.every is None:
            self._evaluate(args, state, control, model, kw.get("processing_class"))
        return control

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> Any:
        if self.live is None:
            return control
        self._evaluate(args, state, control, model, kw.get("processing_class"))
        self.report = self.live.finish()
        return control

    def _evaluate(self, args: Any, state: Any, control: Any, model: Any, processing_class: Any) -> None:
        from sftdebug.engines.hf import HFEngine

        step = state.global_step
        if self.live is None or step in self.evaluated or not state.is_world_process_zero:
            return
        if any(c["step"] == step for c in self.live.checkpoints):  # resumed training: this step has its run
            return
        self.evaluated.add(step)
        tokenizer = _tokenizer(processing_class)
        saved = Path(args.output_dir) / f"checkpoint-{step}"
        path = str(saved) if control.should_save or saved.exists() else f"{args.output_dir}@step-{step}"
        ckpt = {"path": path, "step": step, "step_from": "trainer", "name": self.live.next_name(f"step-{step}")}
        was_training = model.training
        try:
            summary = self.live.add(ckpt, lambda: HFEngine.from_loaded(path, model, tokenizer, self.batch_size))
        finally:
            model.train(was_training)
        figures: Mapping[str, Any] = summary  # read by name (LOGGED, stop_above)
        metrics = {f"sftdebug/{name}": figures.get(key) for key, name in LOGGED.items()}
        low, high = summary.get("narrow_hallucination_ci95") or (None, None)
        metrics |= {"sftdebug/narrow_hallucination_rate_low": low, "sftdebug/narrow_hallucination_rate_high": high}
        metrics = {k: float(v) for k, v in metrics.items() if v is not None}
        if self.trainer is not None:
            self.trainer.log(metrics)
        else:  # no trainer to log through: trainer_state.json still keeps them
            state.log_history.append({**metrics, "step": step})
        self._maybe_stop(self.live, figures, step, control)

    def _maybe_stop(self, live: LiveTrend, summary: Mapping[str, Any], step: int, control: Any) -> None:
        for metric, limit in self.stop_above.items():
            value = summary.get(metric)
            if value is not None and value > limit and "stopped" not in live.notes:
                live.notes["stopped"] = {
                    "step": step,
                    "metric": metric,
                    "value": value,
                    "limit": limit,
                    "why": f"{metric} {value:.1%} > {limit:.1%} at step {step}: training stopped by SFTDebugCallback",
                }
                control.should_training_stop = True
                live.write()


def _tokenizer(processing_class: Any) -> Any:
    if processing_class is None:
        raise UsageError("SFTDebugCallback needs the trainer's tokenizer (processing_class=)")
    return getattr(processing_class, "tokenizer", processing_class)  # a processor wraps its tokenizer


def _first_rows(dataset: Any, n: int) -> list[Any]:
    if hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__"):
        return [dataset[i] for i in range(min(n, len(dataset)))]
    rows = []
    for row in dataset:  # an iterable dataset: its first rows
        rows.append(row)
        if len(rows) == n:
            break
    return rows


def _peft_base(model: Any) -> str | None:
    """A PEFT model's recorded base (for the run's records and the lab's probes); None for a plain model."""
    config = getattr(model, "peft_config", None)
    if not config:
        return None
    first = next(iter(config.values()))
    return str(getattr(first, "base_model_name_or_path", None) or "peft-base")


def _base_vocab(model: Any) -> int | None:
    """Rows of the base's own vocabulary, when the recorded base is a local folder (the trained model's
    embedding may have been resized for added tokens that the base never had)."""
    import json

    base = _peft_base(model)
    config = Path(base) / "config.json" if base else None
    if config is None or not config.is_file():
        return None
    vocab = json.loads(config.read_text(encoding="utf-8")).get("vocab_size")
    return int(vocab) if isinstance(vocab, int) else None
