"""The summary of a risk run and its predicted effect, from the row records. Pure.

The prediction is quoted from two sources, each named: the lab's measured curve (SFT variants trained at known
conflict shares on one base, each one's narrow-hallucination rate measured by `sftdebug hallucination`, stored
in the lab's lab.json by `lab build`), read as a range between the measured intervals; and Gekhman et al.
(2024)'s published fit, whose model and task differ from yours: a direction, not a number for your model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sftdebug.core.stats import mean, wilson
from sftdebug.risk.labels import FACT_LABELS, LABELS

# Gekhman et al. 2024, "Does Fine-Tuning LLMs on New Knowledge Encourage Hallucinations?", their Eq. 1:
# held-out accuracy (%) = 36.9 + 7.3 · N_known/|D| − 8.3 · N_unknown/|D|  (R² 0.86; PaLM 2-M, EntityQuestions).
GEKHMAN = {"intercept": 36.9, "known": 7.3, "unknown": -8.3}
RISKY = ("conflicts", "unknown")


def _shares(labels: Sequence[str], names: Sequence[str]) -> dict[str, Any]:
    counts = Counter(labels)
    out = {}
    for name in names:
        ci = wilson(counts[name], len(labels))
        out[name] = {
            "n": counts[name],
            "share": counts[name] / len(labels) if labels else None,
            "ci95": list(ci) if ci else None,
        }
    return out


def predict_from_lab(conflicts_share: float, curve: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The lab's narrow-hallucination rate at `conflicts_share`, as a range: linear between the two measured
    conflict variants around it, using their 95% interval bounds. None without a curve. Unknown rows are not
    priced by this curve (they cost less per row in the lab); the lab's unknown variant is returned beside."""
    risky_share = conflicts_share
    # conflict variants only: rows of new knowledge cost less per row (the lab's sft-unknown point, shown beside)
    points = sorted(
        (p for p in curve if p.get("narrow_rate") is not None and not p.get("unknown_share")),
        key=lambda p: p["risky_share"],
    )
    if len(points) < 2:
        return None
    x = min(max(risky_share, points[0]["risky_share"]), points[-1]["risky_share"])
    right = next(i for i, p in enumerate(points) if p["risky_share"] >= x)
    left = max(0, right - 1) if points[right]["risky_share"] > x else right
    a, b = points[left], points[right]
    t = 0.0 if b["risky_share"] == a["risky_share"] else (x - a["risky_share"]) / (b["risky_share"] - a["risky_share"])

    def at(i: int) -> float:
        return a["ci95"][i] + t * (b["ci95"][i] - a["ci95"][i])

    return {
        "risky_share": risky_share,
        "narrow_rate_range": [at(0), at(1)],
        "unknown_points": [p for p in curve if p.get("unknown_share")],
        "extrapolated": not points[0]["risky_share"] <= risky_share <= points[-1]["risky_share"],
        "source": "sftdebug lab: SFT variants at known conflict shares on one base, narrow rate measured",
    }


def predict_gekhman(known_share: float, unknown_share: float) -> dict[str, Any]:
    acc = GEKHMAN["intercept"] + GEKHMAN["known"] * known_share + GEKHMAN["unknown"] * unknown_share
    return {
        "heldout_accuracy_pct_in_their_setting": acc,
        "source": "Gekhman et al. 2024, Eq. 1 (PaLM 2-M, EntityQuestions): a different model and task — the "
        "direction (unknown rows lower held-out accuracy), not a number for your model",
    }


def summarize(records: Sequence[dict[str, Any]], curve: Sequence[dict[str, Any]] = (), top: int = 20) -> dict[str, Any]:
    rows = [r for r in records if r.get("status") != "failed"]
    labels = [r["label"] for r in rows]
    fact_rows = [r for r in rows if r["label"] in FACT_LABELS]
    turns = [t for r in rows for t in r["turns"]]
    facts = [r["label"] for r in fact_rows]
    known = sum(lab in ("highly_known", "maybe_known") for lab in facts)
    unknown = sum(lab == "unknown" for lab in facts)
    risky = sum(lab in RISKY for lab in facts)
    share = lambda n: n / len(facts) if facts else 0.0  # noqa: E731
    summary: dict[str, Any] = {
        "n_rows": len(rows),
        "n_fact_rows": len(fact_rows),
        "n_turns": len(turns),
        "labels": _shares(labels, LABELS),
        "turn_labels": _shares([t["label"] for t in turns], LABELS),
        # shares among the fact rows (what a prediction is about); --fail-above gates these
        "conflicts_share": share(sum(lab == "conflicts" for lab in facts)),
        "unknown_share": share(unknown),
        "risky_share": share(risky),
        "known_share": share(known),
    }
    domains = sorted({str(r["domain"]) for r in rows if r.get("domain") is not None})
    if domains:
        summary["by_domain"] = {
            d: _shares([r["label"] for r in rows if str(r.get("domain")) == d], LABELS) for d in domains
        }
    surprise = [t["surprise"] for t in turns if t.get("surprise") is not None]
    if surprise:
        ordered = sorted(surprise)
        at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
        summary["surprise"] = {"mean": mean(surprise), "p50": at(0.5), "p90": at(0.9), "max": ordered[-1]}
    order = {lab: i for i, lab in enumerate(LABELS)}
    # riskiest first: conflicts before unknown rows, the most confident beliefs (largest log-prob margin) first
    margin = lambda r: max((t.get("margin") or 0.0 for t in r["turns"]), default=0.0)  # noqa: E731
    ranked = sorted(fact_rows, key=lambda r: (order[r["label"]], -margin(r), r["key"]))
    summary["riskiest"] = [
        {"key": r["key"], "label": r["label"], **_worst_turn(r)} for r in ranked if r["label"] in RISKY
    ][:top]
    summary["prediction"] = {
        "lab": predict_from_lab(summary["conflicts_share"], curve),
        "gekhman": predict_gekhman(share(known), share(unknown)) if facts else None,
    }
    failed = len(records) - len(rows)
    summary["n_failed"] = failed
    return summary


def _worst_turn(record: dict[str, Any]) -> dict[str, Any]:
    turn = min(record["turns"], key=lambda t: LABELS.index(t["label"]))
    return {k: turn.get(k) for k in ("question", "answer", "base_belief", "base_answers", "probe_id", "margin")}
