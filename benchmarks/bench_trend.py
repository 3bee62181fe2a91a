"""A checkpoint trend against separate runs of each checkpoint: `hallucination --sft 'checkpoint-*'` (the base
phase once) vs one `hallucination` per checkpoint (the base phase each time), on the demo lab's four sft-conflict
checkpoints, both as the command a user types, in one run; the verdicts are compared checkpoint by checkpoint.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from common import lab, sftdebug_timed

from sftdebug.core.runs import read_records, read_summary

N_PROBES = 610


def run() -> str:
    root = lab("demo")
    ckpts = sorted((root / "sft-conflict-checkpoints").iterdir(), key=lambda p: int(p.name.rsplit("-", 1)[1]))
    base = ["hallucination", "--base", str(root / "base"), "--limit", str(N_PROBES)]
    with tempfile.TemporaryDirectory() as tmp:
        trend = Path(tmp) / "trend"
        trend_s = sftdebug_timed(
            *base, "--sft", str(root / "sft-conflict-checkpoints" / "checkpoint-*"), "--out", str(trend)
        )
        separate_s, same = 0.0, []
        for row, ckpt in zip(read_summary(trend)["checkpoints"], ckpts, strict=True):
            alone = Path(tmp) / ckpt.name
            separate_s += sftdebug_timed(*base, "--sft", str(ckpt), "--out", str(alone))
            verdicts = lambda d: {r["probe_id"]: r["verdict"] for r in read_records(d)}  # noqa: E731
            same.append(verdicts(trend / "checkpoints" / row["name"]) == verdicts(alone))
        rates = " → ".join(f"{c['narrow_hallucination_rate']:.1%}" for c in read_summary(trend)["checkpoints"])
    return (
        f"## hallucination over {len(ckpts)} checkpoints ({N_PROBES} probes, demo lab sft-conflict)\n\n"
        "| work | seconds |\n|---|---|\n"
        f"| one trend run (`--sft 'checkpoint-*'`, base phase once) | {trend_s:.1f} |\n"
        f"| {len(ckpts)} separate runs (base phase each time) | {separate_s:.1f} |\n\n"
        f"The trend takes **{trend_s / separate_s:.2f}×** the time of separate runs; verdicts equal for "
        f"{sum(same)}/{len(same)} checkpoints. Narrow-hallucination rate over training: {rates}.\n"
    )
