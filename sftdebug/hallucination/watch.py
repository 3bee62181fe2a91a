"""`sftdebug watch DIR`: for trainers that are not transformers' (axolotl, LLaMA-Factory, torchtune exports) or
runs on other machines — the SFT phase on every new `checkpoint-*` (full or PEFT adapter) as it appears in the
output folder, all sharing one base phase, into one live trend run (hallucination/live.py).

A checkpoint is taken once it is complete: it has trainer_state.json (the Trainer writes it last), or its weights
and no file changed for `settle` seconds. Each is evaluated exactly once; a killed watch resumes with `resume`
(a finished checkpoint is skipped, a half-done one continues from its journals).

    from sftdebug.hallucination.watch import WatchConfig, watch
    watch(WatchConfig(folder="out", run=HallucinationConfig(base="base", sft="out", out="runs/watch"), until_idle=600))
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from sftdebug.hallucination.api import HallucinationConfig, HallucinationResult

WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors")


@dataclass(frozen=True)
class WatchConfig:
    folder: str  # the training output folder the checkpoint-* folders appear in
    run: HallucinationConfig  # base, probes, settings, out, resume (its `sft` is ignored: the checkpoints are)
    max_probes: int | None = 64  # a fixed stratified subset, as the training callback uses
    until_idle: float = 600.0  # stop after this many seconds without a new checkpoint
    interval: float = 10.0  # seconds between looks at the folder
    settle: float = 30.0  # a checkpoint without trainer_state.json: no file changed for this long
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)


def ready_checkpoints(folder: Path, settle: float, now: float | None = None) -> list[Path]:
    """The complete checkpoint-* folders, by step."""
    from sftdebug.hallucination.trend import checkpoint_step

    now = time.time() if now is None else now
    found = []
    for path in folder.glob("checkpoint-*"):
        if not path.is_dir() or not any((path / w).is_file() for w in WEIGHTS):
            continue
        newest = max((f.stat().st_mtime for f in path.iterdir() if f.is_file()), default=now)
        if (path / "trainer_state.json").is_file() or now - newest >= settle:
            found.append(path)
    return sorted(found, key=lambda p: checkpoint_step(str(p), 0)[0])


def watch(cfg: WatchConfig) -> HallucinationResult:
    """Evaluate checkpoints as they appear until `until_idle` seconds pass without one; returns the trend run."""
    from dataclasses import replace

    from sftdebug.core.errors import UsageError
    from sftdebug.core.runs import default_out
    from sftdebug.engines.shared import ModelSet
    from sftdebug.hallucination.live import LiveTrend
    from sftdebug.hallucination.trend import checkpoint_step
    from sftdebug.report import terminal as console

    folder = Path(cfg.folder)
    if not folder.is_dir():
        raise UsageError(f"watch {cfg.folder}: not a folder")
    if cfg.until_idle < 0 or cfg.interval <= 0 or cfg.settle < 0:
        raise UsageError("--until-idle and --settle must be >= 0 and --interval > 0")
    run_cfg = replace(cfg.run, sft=str(folder), out=cfg.run.out or default_out("watch"))
    run_cfg.engine.check_models(run_cfg.base, side="base")
    with console.progress_bars() as bar:
        live = LiveTrend(run_cfg, cfg.max_probes, bar)
        models = ModelSet(run_cfg.engine, run_cfg.base, [])
        try:
            live.run_base(models.open_base)
            last_new = cfg.clock()
            while True:
                fresh = [p for p in ready_checkpoints(folder, cfg.settle) if not live.is_done(str(p))]
                for path in fresh:
                    step, source = checkpoint_step(str(path), len(live.checkpoints))
                    ckpt = {"path": str(path), "step": step, "step_from": source, "name": live.next_name(path.name)}
                    run_cfg.engine.check_models(str(path), side="sft", base=run_cfg.base)
                    summary = live.add(ckpt, partial(models.open_sft, str(path)))
                    console.note(f"{path.name}: narrow hallucination {summary['narrow_hallucination_rate']:.1%}")
                    last_new = cfg.clock()
                if not fresh and cfg.clock() - last_new >= cfg.until_idle:
                    break
                if not fresh:
                    cfg.sleep(cfg.interval)
        finally:
            models.close()
            report = live.finish()
    return HallucinationResult(live.path, live.summary, report, trend=True)
