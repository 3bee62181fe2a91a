"""The report section of a `sftdebug generate` run: the completions, escaped, with their finish reasons."""

from __future__ import annotations

from typing import Any

from sftdebug.report.html import cards, paragraph, pct, section, table


def render(config: dict[str, Any], summary: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    args = config.get("args", {})
    rows = [
        [
            r["id"],
            r["sample"],
            r["prompt"] if isinstance(r["prompt"], str) else r["prompt"][-1]["content"],
            r["text"],
            r["finish_reason"],
            r["completion_tokens"],
        ]
        for r in records
    ]
    return [
        paragraph(f"model: {args.get('model')} · temperature {args.get('temperature')} · n {args.get('n')}"),
        cards(
            {
                "prompts": str(summary["n_prompts"]),
                "samples": str(summary["n_samples"]),
                "stopped by eos/stop": pct(summary["stop_rate"]),
            }
        ),
        section("Completions", table(["id", "sample", "prompt", "completion", "finish", "tokens"], rows, mono=(3,))),
    ]


def headline(summary: dict[str, Any]) -> str:
    return f"{summary['n_samples']} completions · stop rate {pct(summary['stop_rate'])}"
