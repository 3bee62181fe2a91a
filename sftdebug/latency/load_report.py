"""The latency report's load part: throughput against latency per level, the knee, and prices (HTML + terminal).
It reads summary.json's `levels`, `knee` and priced what-if rows (latency/load.py) and computes nothing new."""

from __future__ import annotations

from typing import Any

from sftdebug.latency.schema import LatencySummary
from sftdebug.report import terminal as console
from sftdebug.report.html import img, paragraph, section, table, warning
from sftdebug.report.plots import figure


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{1000 * value:.1f} ms"


def _ci_ms(fit: dict[str, Any], key: str, digits: int) -> str:
    lo, hi = fit[f"{key}_ci95"]
    return f"{1000 * fit[key]:.{digits}f} [{1000 * lo:.{digits}f}, {1000 * hi:.{digits}f}]"


def _knee_text(summary: LatencySummary) -> str:
    knee, rule = summary.get("knee"), summary["knee_rule"]
    if knee is None:
        return f"No knee within the levels swept (the knee: {rule})."
    before = [lv["concurrency"] for lv in summary["levels"] if lv["concurrency"] < knee]
    text = f"Knee at {knee} requests in flight ({rule})."
    return text + (f" Up to {before[-1]} in flight, more load still bought throughput." if before else "")


def _rows(summary: LatencySummary) -> list[list[Any]]:
    rows = []
    for lv in summary["levels"]:
        fit = lv.get("fit")
        rows.append(
            [
                lv["concurrency"],
                f"{lv['n_requests']}" + (f" ({lv['n_failed']} failed)" if lv.get("n_failed") else ""),
                fit["ttft_model"] if fit else "—",
                _ci_ms(fit, "ttft_intercept_s", 2) if fit else "—",
                _ci_ms(fit, "ttft_per_prompt_token_s", 4) if fit else "—",
                _ci_ms(fit, "per_token_s", 3) if fit else "—",
                _ms(lv.get("p50_ttft_s")),
                _ms(lv.get("p50_e2e_s")),
                _ms(lv.get("p90_e2e_s")),
                f"{lv['throughput_tok_s']:.1f}" if lv.get("throughput_tok_s") else "—",
            ]
        )
    return rows


COLUMNS = ["in flight", "requests", "TTFT model", "b0 (ms)", "b1 (ms/token)", "k (ms/token)", "p50 TTFT",
           "p50 e2e", "p90 e2e", "output tokens/s"]  # fmt: skip


def _plot(summary: LatencySummary) -> str:
    levels = [lv for lv in summary["levels"] if lv.get("throughput_tok_s")]

    def draw(ax: Any) -> None:
        xs = [lv["throughput_tok_s"] for lv in levels]
        ax.plot(xs, [1000 * lv["p50_e2e_s"] for lv in levels], "o-", color="C0", label="median end-to-end")
        ax.plot(xs, [1000 * lv["p90_e2e_s"] for lv in levels], "s--", color="C0", alpha=0.5, label="90th percentile")
        for lv in levels:
            ax.annotate(f"{lv['concurrency']}", (lv["throughput_tok_s"], 1000 * lv["p50_e2e_s"]),
                        textcoords="offset points", xytext=(4, -12), fontsize=8)  # fmt: skip
            if lv["concurrency"] == summary.get("knee"):
                ax.scatter([lv["throughput_tok_s"]], [1000 * lv["p50_e2e_s"]], s=120, facecolors="none",
                           edgecolors="C3", label="knee")  # fmt: skip
        ax.set_xlabel("throughput (output tokens/s)")
        ax.set_ylabel("per-request latency (ms)")
        ax.legend(fontsize=8)

    return figure(draw)


def _price_rows(summary: LatencySummary) -> list[list[Any]]:
    return [
        [
            lv["concurrency"],
            w["prompt_tokens"],
            w["answer_tokens"],
            f"${w['usd_per_request']:.6f}",
            f"${w['usd_per_request_with_cot']:.6f}",
            f"${w['usd_per_1m_output_tokens']:.2f}",
            f"${w['usd_per_1m_output_tokens_with_cot']:.2f}",
            "extrapolated" if w["extrapolated"] else "",
        ]
        for lv in summary["levels"]
        for w in lv.get("what_if", [])
    ]


def _price_columns(summary: LatencySummary) -> list[str]:
    cot = summary["cot_tokens"]
    return ["in flight", "prompt", "answer", "per request", f"+{cot} CoT", "per 1M output tokens",
            f"+{cot} CoT (per 1M generated)", "note"]  # fmt: skip


PRICE_NOTE = (
    "A server kept at L requests in flight serves L at once: a request's cost is its predicted time at that level "
    "× the price per second ÷ L (the server busy all the hour at that load)."
)


def render(summary: LatencySummary) -> list[str]:
    """The HTML sections: under load (with several levels), then prices (with --price-per-hour)."""
    out = []
    if len(summary.get("levels", [])) > 1:
        note = "b and k at a level above 1 include the wait behind the other requests in flight."
        out.append(
            section(
                "Under load: throughput against latency",
                paragraph(_knee_text(summary)),
                img(_plot(summary), "throughput against per-request latency, one point per level"),
                table(COLUMNS, _rows(summary)),
                paragraph(note),
            )
        )
    if summary.get("price_per_hour"):
        title = f"Cost at ${summary['price_per_hour']:g} per hour"
        out.append(section(title, paragraph(PRICE_NOTE), table(_price_columns(summary), _price_rows(summary))))
    failed = [lv["concurrency"] for lv in summary.get("levels", []) if "fit" not in lv]
    if failed:
        out.append(warning(f"too few answered requests to fit at {failed} in flight (rerun with --resume)"))
    return out


def print_load(summary: LatencySummary) -> None:
    if len(summary.get("levels", [])) > 1:
        console.table("under load (b0, b1, k: value [95% CI])", COLUMNS, _rows(summary))
        console.note(_knee_text(summary))
    if summary.get("price_per_hour"):
        console.table(f"cost at ${summary['price_per_hour']:g}/hour", _price_columns(summary), _price_rows(summary))
