"""`sftdebug hallucination --shard I/N`: one part of the probes as an ordinary run folder; and the merge of N such
folders (`sftdebug merge`) into the run an unsharded run writes.

What is decided from the whole probe set stays so in every shard: the base phase is given every probe (a shard's
own only are asked), so the `auto` screen sample and the few-shot exemplar pool are the unsharded run's. The eos
recheck is a sequential sample of the cut answers in a seeded order (recheck.py): each shard rechecks all of its
first `eos_recheck` cut answers in that order, which hold every answer the unsharded run could sample, and the
merge replays the sequential rule over all shards' rechecks, so it stops where the unsharded run stops.

    sftdebug hallucination --base B --sft S --shard 0/4 --out runs/s0   # ... 1/4, 2/4, 3/4
    sftdebug merge runs/s0 runs/s1 runs/s2 runs/s3 --out runs/all
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, cast

from sftdebug.core.errors import UsageError
from sftdebug.core.progress import Progress
from sftdebug.core.runs import Journal, RunFolder
from sftdebug.core.shards import Shard, ShardRun, ShardView, fingerprint, merge_journal
from sftdebug.engines.base import Engine
from sftdebug.facts.probes import Probe, load_probe_files
from sftdebug.hallucination.phases import (
    ELICITATION_KEY,
    HallucinationSettings,
    _Scoring,
    finish_summary,
    run_base_phase,
    run_hallucination,
)
from sftdebug.hallucination.recheck import (
    recheck_finishes,
    recheck_order,
    recheck_settled,
    recheck_sizes,
)
from sftdebug.hallucination.schema import HallucinationSummary

ITEM = "key"  # the record field naming the probe a record is about (what shards split)
JOURNALS = ("base", "sft", "sft_cloze", "eos")


def run_shard(
    open_base: Callable[[], Engine],
    open_sft: Callable[[], Engine],
    probes: Sequence[Probe],
    cfg: HallucinationSettings,
    run: RunFolder,
    progress: Progress,
    shard: Shard,
) -> HallucinationSummary:
    """`run_hallucination` over the shard's probes (see the module docstring); returns the shard's summary."""
    mine = shard.keys([p.id for p in probes])
    base_j, scoring = run.journal("base"), _Scoring()
    run_base_phase(open_base, probes, cfg, cast(Journal, ShardView(base_j, mine)), progress, scoring)
    whole = replace(cfg, recheck_batch=cfg.eos_recheck)  # no early stop within a shard: the merge decides
    own = [p for p in probes if p.id in mine]
    summary = run_hallucination(open_base, open_sft, own, whole, run, progress, base_journal=base_j)
    if scoring.skipped:  # the base was scored in the first call: its note is not in run_hallucination's summary
        summary["warnings"].append(scoring.skipped)
        run.write_summary(summary)
    return summary


def merge_shards(shards: Sequence[ShardRun], run: RunFolder) -> HallucinationSummary:
    """The shards' journals and records into `run` (open, empty), in probe order; its summary, as
    `run_hallucination` makes it from the merged files. Returns the summary."""
    args = shards[0].args
    probes = load_probe_files(args["probes"])
    probes = probes[: args["limit"]] if args.get("limit") else probes
    if fingerprint(p.id for p in probes) != shards[0].shard["items_sha1"]:
        raise UsageError(
            f"{', '.join(args['probes'])}: the probes changed since {shards[0].path} ran: rerun the shards"
        )
    for name in JOURNALS:
        merge_journal(shards, f"{name}.jsonl", run.path)
    base_j, sft_j, cloze_j, eos_j = (run.journal(name) for name in JOURNALS)
    by_id = {r["key"]: r for s in shards for r in s.records}
    run.append(by_id[p.id] for p in probes)
    cfg = HallucinationSettings()  # the recheck rule is not a flag: every run has the default's
    retried = set().union(*(j.retried() for j in (base_j, sft_j, cloze_j)))
    summary = finish_summary(
        run.records(),
        recheck_finishes(eos_j.done, _recheck_sample(probes, sft_j.done, eos_j.done, cfg)),
        cfg,
        base_j.done[ELICITATION_KEY],
        n_failed=0,
        n_retried=sum(p.id in retried for p in probes),
        # notes not made from records (an engine that could not score): each shard's, once
        notes=[w for s in shards for w in s.summary.get("warnings", []) if " skipped: " in w],
    )
    run.write_summary(summary)
    return summary


def _recheck_sample(
    probes: Sequence[Probe], sft: dict[str, Any], eos: dict[str, Any], cfg: HallucinationSettings
) -> list[Probe]:
    """The sample the unsharded run's sequential recheck ends with, replayed on the recorded rechecks."""
    capped = recheck_order([p for p in probes if p.id in sft and sft[p.id]["finish"][0] == "length"])
    sample: list[Probe] = []
    for size in recheck_sizes(len(capped), cfg.recheck_batch, cfg.eos_recheck):
        sample = capped[:size]
        if recheck_settled(recheck_finishes(eos, sample)):
            break
    return sample
