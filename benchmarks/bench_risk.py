"""`sftdebug risk` against what training then did: for every SFT variant of the demo lab, the shares `risk` measured
on its data before training (stored by `lab build`, calibration/risk/) predict a narrow-hallucination range from
the lab's curve *without that variant* (leave-one-out: a variant never predicts itself), next to the rate measured
after training. Also the time of a risk run against a hallucination run with the same base, in one run.
"""

from __future__ import annotations

import json
import tempfile

from common import lab, sftdebug_timed

from sftdebug.core.runs import read_summary
from sftdebug.risk.summary import predict_range


def run() -> str:
    root = lab("demo")
    curve = json.loads((root / "lab.json").read_text())["risk_calibration"]
    rows, inside = [], 0
    for point in curve:
        others = [p for p in curve if p["model"] != point["model"]]
        measured = point["risk"]
        s = read_summary(root / "calibration" / "risk" / point["model"])  # what a user's run would say
        pred = predict_range(s["n_fact_rows"], s["labels"]["conflicts"]["n"], s["labels"]["unknown"]["n"], others)
        lo, hi = pred["narrow_rate_range"] if pred else (float("nan"), float("nan"))
        hit = lo <= point["narrow_rate"] <= hi
        inside += hit
        note = []
        if pred and pred["extrapolated"]:
            note.append("extrapolated")
        if pred and measured["unknown_share"] > 0.05 and pred["unknown_cost_per_share"] is None:
            note.append("unknown rows unpriced")
        rows.append(
            f"| {point['model']} | {point['conflict_share']:.0%} / {point['unknown_share']:.0%} | "
            f"{measured['conflicts_share']:.1%} | {measured['unknown_share']:.1%} | {lo:.1%}–{hi:.1%} | "
            f"{point['narrow_rate']:.1%} | {'yes' if hit else 'no'} | {', '.join(note)} |"
        )
    by_risk = [p["model"] for p in sorted(curve, key=lambda p: p["risk"]["risky_share"])]
    by_narrow = [p["model"] for p in sorted(curve, key=lambda p: p["narrow_rate"])]
    with tempfile.TemporaryDirectory() as tmp:
        data, base, sft = root / "data" / "sft-conflict.jsonl", root / "base", root / "sft-conflict"
        risk_s = sftdebug_timed("risk", "--base", str(base), "--data", str(data), "--out", f"{tmp}/risk")
        hall_s = sftdebug_timed("hallucination", "--base", str(base), "--sft", str(sft), "--out", f"{tmp}/hall")
    return (
        "## risk: predicted before training vs measured after (demo lab, leave-one-out curve)\n\n"
        "| SFT data of | planted conflicting / unknown | `risk`: conflicting | `risk`: unknown | predicted narrow "
        "rate | measured narrow rate | inside | note |\n|---|---|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\n{inside}/{len(rows)} measured rates fall inside the range predicted without them (the two ends are "
        "extrapolations; without the unknown variant nothing prices unknown rows). Ranking by `risk`'s conflicting + "
        f"unknown share: {' < '.join(by_risk)}; by measured narrow rate: {' < '.join(by_narrow)} — "
        f"{'the same' if by_risk == by_narrow else 'different'}.\n\n"
        f"Time on sft-conflict's data ({sum(1 for _ in data.open())} rows): `risk` {risk_s:.0f} s, `hallucination` "
        f"on the trained model {hall_s:.0f} s → {risk_s / hall_s:.2f}×.\n"
    )
