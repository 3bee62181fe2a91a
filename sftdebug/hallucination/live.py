"""A trend run written while the checkpoints arrive: from inside a training run (integrations/transformers.py)
or from a folder a trainer writes to (`sftdebug watch`). The run folder is an ordinary trend run
(`checkpoints/NN-name/` per checkpoint, all sharing the top folder's base phase), updated after every checkpoint
so `sftdebug report` and `compare` read it at any time, and resumable: a checkpoint whose run finished (it has
summary.json) is never evaluated again.

    live = LiveTrend(HallucinationConfig(base="base", sft="out/", out="runs/live"), max_probes=64)
    live.run_base(live.open_base)               # once: the base phase
    live.add({"path": "out/checkpoint-100", "step": 100, "name": "00-checkpoint-100"}, open_sft)
    live.finish()                               # the reports
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from sftdebug.core.progress import Progress, no_progress
from sftdebug.core.runs import RunFolder, read_config, read_records, recorded_args
from sftdebug.engines.base import Engine
from sftdebug.facts.probes import Probe
from sftdebug.hallucination.api import IDENTITY, HallucinationConfig, resolve_probe_files, settings_of
from sftdebug.hallucination.phases import run_base_phase, run_hallucination
from sftdebug.hallucination.schema import HallucinationSummary, TrendNotes, TrendSummary, read_hallucination_summary
from sftdebug.hallucination.trend import summarize_trend

LIVE_IDENTITY = [*IDENTITY, "max_probes"]


def stratified(probes: Sequence[Probe], n: int | None, seed: int = 0) -> list[Probe]:
    """At most `n` probes, every relation represented in proportion (round robin over relations, each
    relation's probes in a seeded order), in their original order: a fixed subset, the same on every call."""
    if n is None or n >= len(probes):
        return list(probes)
    by_rel: dict[str, list[Probe]] = {}
    for p in probes:
        by_rel.setdefault(p.relation or "", []).append(p)
    rng = random.Random(seed)
    queues = [rng.sample(group, len(group)) for _, group in sorted(by_rel.items())]
    chosen: set[str] = set()
    while len(chosen) < n:
        for q in queues:
            if q and len(chosen) < n:
                chosen.add(q.pop().id)
    return [p for p in probes if p.id in chosen]


class LiveTrend:
    """One trend run folder fed one checkpoint at a time (see the module docstring)."""

    def __init__(
        self,
        cfg: HallucinationConfig,
        max_probes: int | None = None,
        progress: Progress = no_progress,
        base_from: str | Path | None = None,
    ) -> None:
        """`base_from`: an earlier hallucination run whose base journal (base.jsonl) this run starts from."""
        from sftdebug.core.errors import UsageError
        from sftdebug.facts.probes import load_probe_files

        if cfg.out is None:
            raise UsageError("a live trend needs an output folder (out=)")
        if max_probes is not None and max_probes < 1:
            raise UsageError(f"max_probes must be >= 1, got {max_probes}")
        self.settings = settings_of(cfg)
        files = resolve_probe_files(cfg)
        probes = load_probe_files(files)
        probes = probes[: cfg.limit] if cfg.limit else probes
        self.probes = stratified(probes, max_probes, cfg.seed)
        self.cfg, self.progress, self.path = cfg, progress, Path(cfg.out)
        self.args = recorded_args(cfg) | {"probes": files, "max_probes": max_probes}
        self.top = RunFolder.open(
            self.path,
            "hallucination_trend",
            self.args,
            resume=cfg.resume,
            overwrite=cfg.overwrite,
            identity=LIVE_IDENTITY,
            retry=cfg.engine.retry,
        )
        journal = self.path / "base.jsonl"
        if base_from is not None and not journal.exists():
            source = Path(base_from) / "base.jsonl"
            if not source.is_file():
                raise UsageError(f"{base_from}: no base.jsonl (not a hallucination run folder)")
            shutil.copyfile(source, journal)
        self.base_journal = self.top.journal("base")
        if not cfg.resume:  # an earlier run's checkpoint runs (folders sftdebug made) would be resumed otherwise
            for stale in (self.path / "checkpoints").glob("*/config.json"):
                shutil.rmtree(stale.parent)
        self.checkpoints = self._finished() if cfg.resume else []
        self.notes: TrendNotes = {}  # extra summary fields (e.g. why training was stopped)
        # the trend's, as last written; empty until the first checkpoint is (watch returns it so: none came)
        self.summary = cast(TrendSummary, {})

    def _finished(self) -> list[dict[str, Any]]:
        """The checkpoints an earlier (killed) run finished: their subfolders hold a summary."""
        done = []
        for sub in sorted((self.path / "checkpoints").glob("*/summary.json")):
            args = read_config(sub.parent).get("args", {})
            done.append(
                {"path": args.get("sft"), "step": args.get("step"), "step_from": args.get("step_from", "order"),
                 "name": sub.parent.name}
            )  # fmt: skip
        return done

    def is_done(self, path: str) -> bool:
        return any(c["path"] == path for c in self.checkpoints)

    def next_name(self, stem: str) -> str:
        return f"{len(self.checkpoints):02d}-{stem}"

    def run_base(self, open_base: Callable[[], Engine]) -> None:
        """The base phase, once (nothing is loaded when the top folder's base journal is already complete)."""
        run_base_phase(open_base, self.probes, self.settings, self.base_journal, self.progress)

    def add(self, ckpt: dict[str, Any], open_sft: Callable[[], Engine]) -> HallucinationSummary:
        """Evaluate one checkpoint (`path`, `step`, `step_from`, `name`) into its subfolder and update the trend;
        returns the checkpoint's own summary."""

        def no_base() -> Engine:
            from sftdebug.core.errors import UsageError

            raise UsageError(f"{self.path}: the base phase is incomplete; run the base phase first")

        sub = self.path / "checkpoints" / ckpt["name"]
        args = {**self.args, "sft": ckpt["path"], "step": ckpt["step"], "step_from": ckpt["step_from"]}
        with RunFolder.open(
            sub, "hallucination", args, resume=sub.joinpath("config.json").exists(), retry=self.cfg.engine.retry
        ) as run:
            summary = run_hallucination(
                no_base, open_sft, self.probes, self.settings, run, self.progress, self.base_journal
            )
        self.checkpoints.append(dict(ckpt))
        self.write()
        return summary

    def write(self) -> TrendSummary:
        """The trend's per-fact histories and summary over every checkpoint so far (a fact's newest history is
        the one the journal keeps)."""
        subs = [self.path / "checkpoints" / c["name"] for c in self.checkpoints]
        facts, summary = summarize_trend(
            self.checkpoints, [read_records(s) for s in subs], [read_hallucination_summary(s) for s in subs]
        )
        if facts:
            self.top.append(facts)
        self.summary = {**summary, **self.notes}
        self.top.write_summary(self.summary)
        return self.summary

    def finish(self) -> Path:
        """Every checkpoint's report and the trend's; closes the run folder."""
        from sftdebug.report.build import build_report

        self.top.close()
        if not self.checkpoints:
            return self.path
        for c in self.checkpoints:
            build_report([self.path / "checkpoints" / c["name"]])
        return build_report([self.path])
