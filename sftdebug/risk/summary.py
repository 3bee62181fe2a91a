"""The summary of a risk run and its predicted effect, from the row records. Pure.

The prediction is quoted from two sources, each named: the lab's measured curve (SFT variants trained at known
conflicting and unknown shares on one base, each one's narrow-hallucination rate measured by `sftdebug
hallucination` after training and its shares by `sftdebug risk` before, stored in the lab's lab.json by `lab
build`), read as a range between the measured intervals; and Gekhman et al.
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
MIN_FACTS_GEKHMAN = 30


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


def _measured(point: dict[str, Any], key: str) -> float:
    """A calibration point's share as `risk` measured it on the variant's data (lab.json from lab version 5), or
    the planted share of older labs."""
    planted = {"conflicts_share": "conflict_share", "unknown_share": "unknown_share"}[key]
    return float(point.get("risk", {}).get(key, point[planted]))


def _interpolate(x: float, points: Sequence[dict[str, Any]]) -> tuple[float, float, bool]:
    """The 95% interval bounds of the conflict curve at x: linear between the two measured points around it, or
    along the two nearest ones beyond them (clipped to [0, 1]); and whether x was beyond them."""
    xs = [_measured(p, "conflicts_share") for p in points]
    right = next((i for i, v in enumerate(xs) if v >= x), len(xs) - 1)
    right = max(right, 1)
    left = right - 1
    t = 0.0 if xs[right] == xs[left] else (x - xs[left]) / (xs[right] - xs[left])
    lo, hi = (points[left]["ci95"][i] + t * (points[right]["ci95"][i] - points[left]["ci95"][i]) for i in (0, 1))
    return min(max(lo, 0.0), 1.0), min(max(hi, 0.0), 1.0), not xs[0] <= x <= xs[-1]


def predict_from_lab(
    conflicts_share: float, unknown_share: float, curve: Sequence[dict[str, Any]]
) -> dict[str, Any] | None:
    """The lab's narrow-hallucination rate for data with these shares, as a range. Conflicting rows are priced by
    the lab's conflict variants (linear between the two around `conflicts_share`, their 95% bounds); unknown rows
    by the lab's unknown variant: its rate above what its own conflicting share predicts, per unknown row (they
    cost less per row than conflicts in the lab). None without two conflict variants; unknown rows unpriced (and
    said so) without an unknown variant."""
    conflict = sorted(
        (p for p in curve if p.get("narrow_rate") is not None and not p.get("unknown_share")),
        key=lambda p: _measured(p, "conflicts_share"),
    )
    if len(conflict) < 2:
        return None
    lo, hi, extrapolated = _interpolate(conflicts_share, conflict)
    unknown_points = [p for p in curve if p.get("unknown_share") and _measured(p, "unknown_share") > 0]
    cost = None
    if unknown_points:
        costs = []
        for p in unknown_points:
            base_lo, base_hi, _ = _interpolate(_measured(p, "conflicts_share"), conflict)
            u = _measured(p, "unknown_share")
            costs.append((max(0.0, p["ci95"][0] - base_hi) / u, max(0.0, p["ci95"][1] - base_lo) / u))
        cost = [min(c[0] for c in costs), max(c[1] for c in costs)]
        lo, hi = lo + cost[0] * unknown_share, hi + cost[1] * unknown_share
    return {
        "conflicts_share": conflicts_share,
        "unknown_share": unknown_share,
        "narrow_rate_range": [min(lo, 1.0), min(hi, 1.0)],
        "unknown_cost_per_share": cost,  # narrow-rate points per unit unknown share; None: unknown rows unpriced
        "unknown_points": [p["model"] for p in unknown_points],
        "extrapolated": extrapolated,
        "measured_x": all("risk" in p for p in conflict),
        "source": "sftdebug lab: SFT variants trained at known conflicting / unknown shares on one base, narrow rate "
        "measured after training against the shares `risk` measured on their data before",
    }


def predict_range(
    n_facts: int, n_conflicts: int, n_unknown: int, curve: Sequence[dict[str, Any]]
) -> dict[str, Any] | None:
    """`predict_from_lab` at the data's shares, its range widened by the shares' own 95% intervals: a small file's
    shares are uncertain, and a prediction from 5 fact rows says so by its width."""
    if not n_facts:
        return None
    point = predict_from_lab(n_conflicts / n_facts, n_unknown / n_facts, curve)
    c_ci, u_ci = wilson(n_conflicts, n_facts), wilson(n_unknown, n_facts)
    if point is None or c_ci is None or u_ci is None:
        return point
    low, high = predict_from_lab(c_ci[0], u_ci[0], curve), predict_from_lab(c_ci[1], u_ci[1], curve)
    assert low is not None and high is not None
    point["narrow_rate_range"] = [low["narrow_rate_range"][0], high["narrow_rate_range"][1]]
    point["share_ci95"] = {"conflicts": list(c_ci), "unknown": list(u_ci)}
    return point


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
    conflicts = sum(lab == "conflicts" for lab in facts)
    risky = sum(lab in RISKY for lab in facts)
    share = lambda n: n / len(facts) if facts else 0.0  # noqa: E731
    summary: dict[str, Any] = {
        "n_rows": len(rows),
        "n_fact_rows": len(fact_rows),
        "n_turns": len(turns),
        "labels": _shares(labels, LABELS),
        "turn_labels": _shares([t["label"] for t in turns], LABELS),
        # shares among the fact rows (what a prediction is about); --fail-above gates these
        "conflicts_share": share(conflicts),
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
        "lab": predict_range(len(facts), conflicts, unknown, curve),
        # a share-based fit read off a handful of rows is noise: below MIN_FACTS_GEKHMAN the report says so instead
        "gekhman": predict_gekhman(share(known), share(unknown)) if len(facts) >= MIN_FACTS_GEKHMAN else None,
    }
    failed = len(records) - len(rows)
    summary["n_failed"] = failed
    return summary


def _worst_turn(record: dict[str, Any]) -> dict[str, Any]:
    turn = min(record["turns"], key=lambda t: LABELS.index(t["label"]))
    return {k: turn.get(k) for k in ("question", "answer", "base_belief", "base_answers", "probe_id", "margin")}
