"""Terminal summaries (rich) of finished runs, from their summary.json content."""

from __future__ import annotations

from typing import Any

from sftdebug import console
from sftdebug.report.html import pct


def hallucination(summary: dict[str, Any], out_dir: str) -> None:
    console.table(
        f"narrow hallucination ({out_dir})",
        ["metric", "value"],
        [
            ["facts probed", summary["n_probes"]],
            ["base knew", summary["base_known"]],
            [
                "narrow-hallucination rate [95% CI]",
                pct(summary["narrow_hallucination_rate"], summary["narrow_hallucination_ci95"]),
            ],
            ["base accuracy", pct(summary["base_accuracy"])],
            ["SFT accuracy", pct(summary["sft_accuracy"])],
            ["SFT eos rate", pct(summary["sft_eos_rate"])],
            *[[f"verdict: {v}", n] for v, n in summary["counts"].items()],
        ],
    )
    groups = {**summary["by_relation"], **{f"lang={k}": v for k, v in summary["by_lang"].items()}}
    console.table(
        "by relation and language",
        ["group", "facts", "base knew", "narrow", "narrow rate [95% CI]", "SFT accuracy"],
        [
            [
                k,
                g["n"],
                g["base_known"],
                g["narrow"],
                pct(g["narrow_hallucination_rate"], g["ci95"]),
                pct(g["sft_accuracy"]),
            ]
            for k, g in groups.items()
        ],
    )
    if summary["examples"]:
        console.table(
            "examples of narrow hallucinations",
            ["fact", "answer", "base continuation", "SFT answer"],
            [[e["probe_id"], e["answer"], e["base_text"], e["sft_text"]] for e in summary["examples"]],
        )
    for w in summary.get("warnings", []):
        console.warn(w)


def latency(summary: dict[str, Any], out_dir: str) -> None:
    fit = summary["fit"]

    def ci(key: str) -> str:
        lo, hi = fit[f"{key}_ci95"]
        return f"{1000 * fit[key]:.4f} ms [{1000 * lo:.4f}, {1000 * hi:.4f}]"

    console.table(
        f"latency fit ({out_dir})",
        ["parameter", "value [95% CI]"],
        [
            ["b0: time to first token, intercept", ci("ttft_intercept_s")],
            ["b1: per prompt token", ci("ttft_per_prompt_token_s")],
            ["k: per output token", ci("per_token_s")],
            ["R² (TTFT)", f"{fit['r2_ttft']:.4f}"],
            ["b/k at the median prompt", f"{fit['b_over_k']:.1f}" if fit.get("b_over_k") else "—"],
            ["hold-out median abs. % error", pct(fit.get("holdout_mape"))],
            ["timed requests", summary["n_requests"]],
        ],
    )
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


def overfit_eval(summary: dict[str, Any], out_dir: str) -> None:
    forms = ("trained", "paraphrase", "reverse", "control")
    console.table(
        f"special-token facts ({out_dir})",
        ["question form", "recall", "rank-1 rate", "mean exposure"],
        [[f, pct(summary["recall"][f]), pct(summary["rank1"][f]), summary["exposure"][f]] for f in forms],
    )
    emb = summary["embeddings"]
    console.kv("embeddings of the new tokens", {k: v for k, v in emb.items()})
    if not emb["moved"]:
        console.warn("the new tokens' embedding rows did not move from initialisation: frozen or untied rows?")
    if "collateral" in summary:
        c = summary["collateral"]
        console.kv(
            "collateral damage",
            {
                "narrow-hallucination rate": pct(c["narrow_hallucination_rate"]),
                "perplexity ratio (model / base)": f"{c['ppl_ratio']:.3f}",
            },
        )


def overfit_sweep(summary: dict[str, Any], out_dir: str) -> None:
    console.table(
        f"dose-response ({out_dir})",
        [
            "epochs",
            "lr",
            "trained",
            "paraphrase",
            "reverse",
            "control",
            "exposure",
            "narrow rate",
            "ppl ratio",
            "verdict",
        ],
        [
            [
                s["epochs"],
                s["lr"],
                pct(s["recall_trained"]),
                pct(s["recall_paraphrase"]),
                pct(s["recall_reverse"]),
                pct(s["recall_control"]),
                s["exposure_mean"],
                pct(s["narrow_hallucination_rate"]),
                s["ppl_ratio"],
                s["verdict"],
            ]
            for s in summary["settings"]
        ],
    )
