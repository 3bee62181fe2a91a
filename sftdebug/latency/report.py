"""The latency section of a report: fit with intervals, TTFT vs prompt length, inter-token times, what-if."""

from __future__ import annotations

from typing import Any

import numpy as np

from sftdebug.latency import load_report
from sftdebug.latency.fit import ttft_of
from sftdebug.latency.load import level_of
from sftdebug.latency.schema import LatencySummary
from sftdebug.report import terminal as console
from sftdebug.report.html import cards, img, kv_table, paragraph, pct, section, table, warning
from sftdebug.report.plots import figure


def ms(value: float | None) -> str:
    return "—" if value is None else f"{1000 * value:.2f} ms"


def _ci(fit: dict[str, Any], key: str, scale: float = 1000.0, unit: str = "ms") -> str:
    lo, hi = fit[f"{key}_ci95"]
    return f"{scale * fit[key]:.3f} {unit} [{scale * lo:.3f}, {scale * hi:.3f}]"


def curve_text(fit: dict[str, Any]) -> str:
    """The TTFT model the fit chose, as a formula in ms."""
    if fit.get("ttft_model") == "hinge":
        h = fit["ttft_hinge"]
        return f"b(p) = {1000 * h['b0']:.2f} ms + {1000 * h['b1']:.4f} ms·max(0, p − {h['p0']:.0f})"
    coef = fit.get("ttft_coef") or [fit["ttft_intercept_s"], fit["ttft_per_prompt_token_s"]]
    terms = [f"{1000 * coef[0]:.2f} ms", f"{1000 * coef[1]:.4f} ms·p"]
    if len(coef) > 2:
        terms.append(f"{1000 * coef[2]:.3g} ms·p²")
    return "b(p) = " + " + ".join(terms)


def _ttft_plot(records: list[dict[str, Any]], fit: dict[str, Any]) -> str:
    outlier_keys = set(fit.get("outlier_keys", []))

    def draw(ax: Any) -> None:
        inl = [r for r in records if str(r.get("key")) not in outlier_keys]
        out = [r for r in records if str(r.get("key")) in outlier_keys]
        ax.scatter([r["p"] for r in inl], [1000 * r["ttft_s"] for r in inl], s=12, alpha=0.6, label="requests")
        if out:
            ax.scatter(
                [r["p"] for r in out],
                [1000 * r["ttft_s"] for r in out],
                s=30,
                marker="x",
                color="C1",
                label=f"outliers ({len(out)}, down-weighted)",
            )
        band = fit.get("ttft_band")
        xs = np.asarray(band["p"]) if band else np.linspace(0, max(r["p"] for r in records) * 1.05, 40)
        ax.plot(xs, [1000 * ttft_of(fit, x) for x in xs], color="C3", label=f"fit: {curve_text(fit)}")
        if band:
            lo, hi = 1000 * np.asarray(band["lo"]), 1000 * np.asarray(band["hi"])
            ax.fill_between(xs, lo, hi, color="C3", alpha=0.15, label="95% bootstrap band of the fitted curve")
        ax.set_xlabel("prompt tokens p")
        ax.set_ylabel("time to first token (ms)")
        ax.legend(fontsize=8)

    return figure(draw)


def _itl_plot(records: list[dict[str, Any]]) -> str | None:
    gaps = [1000 * g for r in records for g in r.get("itl_s") or []]
    if not gaps:
        return None

    def draw(ax: Any) -> None:
        ax.hist(gaps, bins=40, color="C0", alpha=0.8)
        ax.set_xlabel("inter-token time (ms)")
        ax.set_ylabel("tokens")

    return figure(draw)


def _e2e_plot(records: list[dict[str, Any]]) -> str:
    def draw(ax: Any) -> None:
        for p in sorted({r["p_nominal"] for r in records}):
            sel = [r for r in records if r["p_nominal"] == p]
            ax.scatter([r["x"] for r in sel], [1000 * r["e2e_s"] for r in sel], s=12, label=f"p={p}")
        ax.set_xlabel("output tokens x")
        ax.set_ylabel("end-to-end time (ms)")
        ax.legend(fontsize=8)

    return figure(draw)


def render(config: dict[str, Any], summary: LatencySummary, records: list[dict[str, Any]]) -> list[str]:
    fit, args = summary["fit"], config.get("args", {})
    if summary.get("levels"):  # the plots show the requests of the level the top-level fit describes
        records = [r for r in records if level_of(r) == summary["levels"][0]["concurrency"]]
    out = [
        paragraph(
            f"model: {args.get('model')} · engine: {args.get('engine')} · {summary['n_requests']} timed requests"
        ),
        cards(
            {
                "fit": "trustworthy" if fit.get("trustworthy", True) else "NOT trustworthy",
                "b0 (linear fit)": ms(fit["ttft_intercept_s"]),
                "b1 per prompt token (linear fit)": f"{1000 * fit['ttft_per_prompt_token_s']:.4f} ms",
                "k (per output token)": ms(fit["per_token_s"]),
                "b/k at median prompt": f"{fit['b_over_k']:.1f}×" if fit.get("b_over_k") else "—",
                "hold-out MAPE": f"{100 * fit['holdout_mape']:.1f}%" if fit.get("holdout_mape") is not None else "—",
            }
        ),
    ]
    out.append(
        paragraph(f"TTFT model the fit chose ({fit['ttft_model']}, used for every prediction): {curve_text(fit)}")
    )
    out += [warning(f"Do not use this fit as a cost model: {reason}.") for reason in fit.get("trust_reasons", [])]
    if summary.get("concurrency", 1) > 1:
        out.append(warning(_loaded_note(summary["concurrency"])))
    if summary.get("n_failed"):
        out.append(warning(f"{summary['n_failed']} requests failed and are not in the fit (rerun with --resume)"))
    rows = [
        ["TTFT model chosen", f"{fit['ttft_model']}: {curve_text(fit)}"],
        ["b0: TTFT intercept", _ci(fit, "ttft_intercept_s")],
        ["b1: TTFT per prompt token", _ci(fit, "ttft_per_prompt_token_s")],
        ["k: time per output token", _ci(fit, "per_token_s")],
        ["R² of the TTFT fit (outliers aside)", f"{fit['r2_ttft']:.4f}"],
        ["TTFT models compared (robust BIC, lower wins)", bic_text(fit)],
        ["outliers (down-weighted, Huber)", fit.get("n_outliers", "—")],
        ["k slope per context token", ms(fit.get("per_token_slope_s_per_context_token"))],
    ]
    out.append(section("Fit: time = b(p) + k·(x − 1)", table(["parameter", "value [95% bootstrap CI]"], rows)))
    plots = [img(_ttft_plot(records, fit), "TTFT vs prompt length"), img(_e2e_plot(records), "e2e vs output length")]
    itl = _itl_plot(records)
    if itl:
        plots.append(img(itl, "inter-token time distribution"))
    out.append(section("Plots", *plots))
    wi = [
        [
            w["prompt_tokens"],
            w["answer_tokens"],
            ms(w["predicted_s"]),
            ms(w["with_cot_s"]),
            ms(w["cot_extra_s"]),
            "extrapolated" if w["extrapolated"] else "measured range",
        ]
        for w in summary["what_if"]
    ]
    out.append(
        section(
            f"What if (+{summary['cot_tokens']} chain-of-thought tokens)",
            table(["prompt tokens", "answer tokens", "predicted", "with CoT", "CoT costs", "range"], wi),
        )
    )
    if "baseline" in summary:
        out.append(_baseline_section(summary["baseline"]))
    out += load_report.render(summary)
    out.append(section("Roofline", kv_table(summary["roofline"])))
    return out


def bic_text(fit: dict[str, Any]) -> str:
    bic = fit.get("ttft_bic")
    return " · ".join(f"{name} {value:.1f}" for name, value in bic.items()) if bic else "—"


def _change(c: dict[str, Any]) -> str:
    ci = c.get("change_ci95")
    text = f"{100 * c['change']:+.1f}%"
    return text + (f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci else "")


def _baseline_section(b: dict[str, Any]) -> str:
    rows = [[c["prompt_tokens"], c["answer_tokens"], ms(c["base_s"]), ms(c["now_s"]), _change(c)] for c in b["cells"]]
    verdict = "a significant slow-down" if b["significant"] else "no slow-down the intervals can tell from noise"
    return section(
        "Against the baseline",
        paragraph(f"baseline run: {b['run']} · largest change {100 * b['regression']:+.1f}%: {verdict}"),
        table(["prompt tokens", "answer tokens", "baseline", "now", "change [95% CI]"], rows),
    )


def _loaded_note(concurrency: int) -> str:
    return (
        f"measured with {concurrency} requests in flight: this is latency under load (requests queue behind each "
        "other), not the latency of one request"
    )


def headline(summary: LatencySummary) -> str:
    fit = summary["fit"]
    text = f"{curve_text(fit)}; k {ms(fit['per_token_s'])}/token; R² {fit['r2_ttft']:.3f}"
    if not fit.get("trustworthy", True):
        text += " · NOT trustworthy: " + "; ".join(fit["trust_reasons"])
    if len(summary.get("levels", [])) > 1:
        knee = summary.get("knee")
        text += f" · under load: knee at {knee} in flight" if knee else " · under load: no knee in the levels swept"
    return text


# --- terminal view -------------------------------------------------------------------------------------


def print_summary(summary: LatencySummary, out_dir: str) -> None:
    fit = summary["fit"]

    def ci(key: str) -> str:
        lo, hi = fit[f"{key}_ci95"]
        return f"{1000 * fit[key]:.4f} ms [{1000 * lo:.4f}, {1000 * hi:.4f}]"

    console.table(
        f"latency fit ({out_dir})",
        ["parameter", "value [95% CI]"],
        [
            ["TTFT model", f"{fit['ttft_model']}: {curve_text(fit)}"],
            ["TTFT models compared (BIC)", bic_text(fit)],
            ["b0: time to first token, intercept", ci("ttft_intercept_s")],
            ["b1: per prompt token", ci("ttft_per_prompt_token_s")],
            ["k: per output token", ci("per_token_s")],
            ["R² (TTFT)", f"{fit['r2_ttft']:.4f}"],
            ["b/k at the median prompt", f"{fit['b_over_k']:.1f}" if fit.get("b_over_k") else "—"],
            ["hold-out median abs. % error", pct(fit.get("holdout_mape"))],
            ["outliers (down-weighted)", fit.get("n_outliers", "—")],
            ["timed requests", summary["n_requests"]],
        ],
    )
    for reason in fit.get("trust_reasons", []):
        console.warn(f"do not use this fit as a cost model: {reason}")
    if "baseline" in summary:
        b = summary["baseline"]
        console.table(
            f"against the baseline {b['run']}",
            ["prompt", "answer", "baseline (ms)", "now (ms)", "change [95% CI]"],
            [
                [
                    c["prompt_tokens"],
                    c["answer_tokens"],
                    f"{1000 * c['base_s']:.1f}",
                    f"{1000 * c['now_s']:.1f}",
                    _change(c),
                ]
                for c in b["cells"]
            ],
        )
    if summary.get("concurrency", 1) > 1:
        console.warn(_loaded_note(summary["concurrency"]))
    console.table(
        "what if",
        ["prompt", "answer", "predicted (ms)", f"+{summary['cot_tokens']} CoT (ms)", "note"],
        [
            [
                w["prompt_tokens"],
                w["answer_tokens"],
                f"{1000 * w['predicted_s']:.1f}",
                f"{1000 * w['with_cot_s']:.1f}",
                "extrapolated" if w["extrapolated"] else "",
            ]
            for w in summary["what_if"]
        ],
    )
    load_report.print_load(summary)
