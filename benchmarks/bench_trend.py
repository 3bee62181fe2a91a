"""A checkpoint trend against separate runs of each checkpoint: `hallucination --sft 'checkpoint-*'` (the base
phase once) vs one `hallucination` per checkpoint (the base phase each time), on the demo lab's four sft-conflict
checkpoints, both as the command a user types, in one run; the verdicts are compared checkpoint by checkpoint.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from common import checkpoints_of, lab, trend_vs_separate

N_PROBES = 610


def run() -> str:
    root = lab("demo")
    folder = root / "sft-conflict-checkpoints"
    ckpts = checkpoints_of(folder)
    args = ["--base", str(root / "base"), "--limit", str(N_PROBES)]
    with tempfile.TemporaryDirectory() as tmp:
        trend_s, separate_s, same, rates = trend_vs_separate(args, str(folder / "checkpoint-*"), ckpts, Path(tmp))
    return (
        f"## hallucination over {len(ckpts)} checkpoints ({N_PROBES} probes, demo lab sft-conflict)\n\n"
        "| work | seconds |\n|---|---|\n"
        f"| one trend run (`--sft 'checkpoint-*'`, base phase once) | {trend_s:.1f} |\n"
        f"| {len(ckpts)} separate runs (base phase each time) | {separate_s:.1f} |\n\n"
        f"The trend takes **{trend_s / separate_s:.2f}×** the time of separate runs; verdicts equal for "
        f"{same}/{len(ckpts)} checkpoints. Narrow-hallucination rate over training: {rates}.\n"
    )
