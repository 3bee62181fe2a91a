"""The report section of a `sftdebug data` run: the checks with their example rows, length figures, and the
loss-mask view of the first rows (every token boxed, coloured by role and by whether it is trained)."""

from __future__ import annotations

from typing import Any

from sftdebug.report.html import (
    Markup,
    cards,
    details,
    paragraph,
    pct,
    section,
    status,
    table,
    tokens,
)

LEGEND = Markup(
    '<p><span class="tok r-system masked">system</span><span class="tok r-user masked">user</span>'
    '<span class="tok r-tool masked">tool</span><span class="tok r-template masked">generation prompt</span>'
    '<span class="tok r-assistant masked">answer, masked</span><span class="tok r-assistant trained">trained</span>'
    '<span class="tok r-assistant trained eos">eos</span> · spaces show as ·, newlines as ↵</p>'
)


def render(config: dict[str, Any], summary: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    args = config.get("args", {})
    checks = summary["checks"]
    parts = [
        paragraph(
            f"file: {args.get('file')} ({summary.get('format')}) · tokenizer: {args.get('tokenizer')} · "
            f"--max-len {args.get('max_len')} · --loss-on {args.get('loss_on')}"
            + (" · --train-on-prompt" if args.get("train_on_prompt") else "")
        ),
        cards(
            {
                "verdict": summary["status"],
                "rows": f"{summary['n_rows']} (+{summary['n_bad_rows']} bad)",
                "prompt duplicates": pct(summary["prompt_duplicate_ratio"]),
                "trained tokens": pct(summary["trained_token_share"]),
            }
        ),
        section(
            "Checks",
            table(
                ["check", "status", "count", "finding"],
                [[c["id"], status(c["status"]), c["count"], c["message"]] for c in checks],
            ),
        ),
    ]
    for c in checks:
        if c["examples"]:
            rows = [[e["row"], e["detail"]] for e in c["examples"]]
            title = f"{c['id']} ({c['status']}): example rows"
            parts.append(details(title, table(["row", "detail"], rows, mono=(1,)), open=c["status"] != "pass"))
    lengths = next(c for c in checks if c["id"] == "length_stats")["figures"]
    stats = [
        [name, *(lengths[name].get(k) for k in ("min", "p50", "p90", "p99", "max", "mean"))]
        for name in ("prompt", "answer", "total")
        if lengths.get(name)
    ]
    parts.append(section("Token lengths", table(["tokens", "min", "p50", "p90", "p99", "max", "mean"], stats)))
    shown = [r for r in records if r.get("token_view")]
    if shown:
        views = [
            details(f"{r['key']} · {r['tokens']} tokens, {r['trained']} trained", tokens(r["token_view"]), open=True)
            for r in shown
        ]
        parts.append(section("What the model is trained on", LEGEND, *views))
    template = summary.get("template", {})
    if template.get("markers"):
        rows = [[m["marker"], m["role"], len(m["pieces"]), " ".join(m["pieces"])] for m in template["markers"]]
        parts.append(section("Template markers", table(["marker", "near", "pieces", "tokens"], rows, mono=(3,))))
    return parts


def headline(summary: dict[str, Any]) -> str:
    failed = [c["id"] for c in summary["checks"] if c["status"] == "fail"]
    return f"{summary['n_rows']} rows · {summary['status']}" + (f" ({', '.join(failed)})" if failed else "")
