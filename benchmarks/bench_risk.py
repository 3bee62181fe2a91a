"""`sftdebug risk` against what training then did: for every SFT variant of the demo lab, the risk command on its
data (before training, base model only) predicts a narrow-hallucination range from the lab's curve *without that
variant* (leave-one-out: a variant never predicts itself), next to the rate measured after training (lab.json,
`lab build`'s calibration runs). Also the time of a risk run against a hallucination run on the same base.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from common import lab, sftdebug_timed

from sftdebug.core.runs import read_summary
from sftdebug.risk.summary import predict_from_lab


def run() -> str:
    root = lab("demo")
    curve = json.loads((root / "lab.json").read_text())["risk_calibration"]
    rows, inside = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for point in curve:
            out = Path(tmp) / point["model"]
            data = root / "data" / f"{point['model']}.jsonl"
            seconds = sftdebug_timed("risk", "--base", str(root / "base"), "--data", str(data), "--out", str(out),
                                     "--calibration", str(root))  # fmt: skip
            s = read_summary(out)
            others = [p for p in curve if p["model"] != point["model"]]
            pred = predict_from_lab(s["conflicts_share"], others)
            lo, hi = pred["narrow_rate_range"] if pred else (float("nan"), float("nan"))
            hit = lo <= point["narrow_rate"] <= hi
            inside += hit
            rows.append(
                f"| {point['model']} | {point['conflict_share']:.0%} / {point['unknown_share']:.0%} | "
                f"{s['conflicts_share']:.1%} | {s['unknown_share']:.1%} | {lo:.1%}–{hi:.1%} | "
                f"{point['narrow_rate']:.1%} | {'yes' if hit else 'no'} | {seconds:.0f} |"
            )
    return (
        "## risk: predicted before training vs measured after (demo lab, leave-one-out curve)\n\n"
        "| SFT data of | planted conflict / unknown | `risk`: conflicting | `risk`: unknown | predicted narrow "
        "rate | measured narrow rate | inside | seconds |\n|---|---|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\n{inside}/{len(rows)} measured rates fall inside the range predicted without them. The unknown "
        "variant is predicted from its conflicting share only: the conflict curve does not price rows of new "
        "knowledge (they raised the narrow rate less per row in the lab).\n"
    )
