"""LoRA adapters as models. A trend over four adapter checkpoints (`--sft 'checkpoint-*'`: the base loaded once,
adapters swapped on it) vs four separate runs on the same checkpoints merged into full checkpoints (`sftdebug
convert`, not timed), as a user types them, in one run; verdicts compared checkpoint by checkpoint. On the demo
lab's sft-conflict-lora, then on the real lab's Gemma-3-270m LoRA (`sftdebug lab build --size real`, read from
reports/lab-real when it is there). What the LoRA's diagnosis found against its planted contradictions is
bench_validity's (the real lab's recall by group).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from common import ROOT, checkpoints_of, lab, sftdebug_timed, trend_vs_separate

N_PROBES = 610


REAL_PROBES = 40


def run() -> str:
    root = lab("demo", calibration=False)
    text = "## LoRA adapters: a trend over adapter checkpoints vs separate runs on them merged\n\n"
    text += _trend(
        f"demo lab sft-conflict-lora, {N_PROBES} probes",
        ["--base", str(root / "base"), "--limit", str(N_PROBES)],
        root / "sft-conflict-lora-checkpoints",
        [],
    )
    real = ROOT / "reports" / "lab-real"
    if (real / "gemma-sft-conflict-lora-checkpoints").is_dir():
        gemma = json.loads((real / "lab.json").read_text(encoding="utf-8"))["base"]
        text += "\n" + _trend(
            f"Gemma-3-270m LoRA of the real lab, {REAL_PROBES} built-in English probes, few-shot base phase",
            ["--base", gemma, "--adapter-base", gemma, "--builtin", "en", "--limit", str(REAL_PROBES)],
            real / "gemma-sft-conflict-lora-checkpoints",
            ["--adapter-base", gemma],
        )
    return text


def _trend(what: str, args: list[str], folder: Path, adapter_base: list[str]) -> str:
    ckpts = checkpoints_of(folder)
    with tempfile.TemporaryDirectory() as tmp:
        merged = [Path(tmp) / f"merged-{ckpt.name}" for ckpt in ckpts]
        for ckpt, out in zip(ckpts, merged, strict=True):
            sftdebug_timed("convert", str(ckpt), *adapter_base, "--out", str(out))
        trend_s, separate_s, same, rates = trend_vs_separate(args, str(folder / "checkpoint-*"), merged, Path(tmp))
    return (
        f"### {what}\n\n"
        "| work | seconds |\n|---|---|\n"
        f"| one trend run over the {len(ckpts)} adapter folders (base loaded once, adapters swapped) | {trend_s:.1f} |\n"
        f"| {len(ckpts)} separate runs on the merged checkpoints | {separate_s:.1f} |\n\n"
        f"The adapter trend takes **{trend_s / separate_s:.2f}×** the time of separate runs on merged checkpoints "
        f"(goal ≤ 0.5×); verdicts equal for {same}/{len(ckpts)} checkpoints. Narrow-hallucination rate over "
        f"training: {rates}.\n"
    )
