"""The report of a `sftdebug parity` run: what differs and how often (kind -> rows), and for the first rows of each
kind the two sides' tokens aligned around each difference (trainer above, server below; differing tokens
outlined; spaces as ·, newlines as ↵), as the data lint's token view shows a row. The terminal gets the same
table and the first difference of each kind."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sftdebug.report.html import aligned_tokens, cards, details, paragraph, section, table, visible, warning

MEANING = {
    "bos_doubled": "the server's prompt starts with more BOS tokens than training's",
    "bos_missing": "the server drops a BOS training had",
    "bos_added": "the server adds a BOS training never had",
    "system_prompt_differs": "a different (or missing, or injected default) system prompt",
    "generation_prompt_differs": "the tokens between the last message and the answer differ",
    "whitespace": "only whitespace differs",
    "special_token_split": "a special token on one side is plain pieces on the other (same text)",
    "history_rewritten": "earlier assistant turns render differently (e.g. reasoning stripped)",
    "tokenization_differs": "the same text in other token ids",
    "template_differs": "the templates render something else differently",
    "stop_token_mismatch": "the server does not stop on the end-of-turn token the answers were trained to end with",
    "serve_error": "the serving side could not build the prompt at all",
}


def aligned(diff: Mapping[str, Any]) -> str:
    """One difference: both sides' tokens around it, decoded, ids on hover."""
    head = paragraph(
        f"{diff['kind']} · trainer position {diff['train_pos']}, server position {diff['serve_pos']} · "
        f"trainer ids {[t['id'] for t in diff['train_view'] if t['diff']]} vs server ids "
        f"{[t['id'] for t in diff['serve_view'] if t['diff']]}"
    )
    return head + aligned_tokens([("trainer", diff["train_view"]), ("server", diff["serve_view"])])


def _examples(summary: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> list[str]:
    by_key = {r["key"]: r for r in records}
    parts = []
    for kind, keys in summary.get("first_rows", {}).items():
        views: list[str] = []
        for key in keys:
            for turn in by_key.get(key, {}).get("turns", []):
                if kind not in turn["kinds"]:
                    continue
                shown = [d for d in turn.get("differences", []) if d["kind"] == kind]
                body = "".join(aligned(d) for d in shown) or paragraph(turn.get("error") or _stop_line(turn))
                views.append(details(f"{key} · turn {turn['turn']}", body, open=len(views) == 0))
                break
        parts.append(section(f"{kind}: {MEANING.get(kind, '')}", *views))
    return parts


def _stop_line(turn: Mapping[str, Any]) -> str:
    return f"trained end-of-turn token {turn.get('trained_end')!r}: the server stops on it: {turn.get('stops')}"


def render(config: dict[str, Any], summary: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    args = config.get("args", {})
    serve = args.get("serve_tokenizer") or args.get("serve_gguf") or args.get("endpoint")
    parts = [
        paragraph(f"data: {args.get('data')} ({summary.get('format')}) · training tokenizer: {args.get('tokenizer')}"),
        paragraph(f"serving side: {summary['serving']}"),
        cards(
            {
                "verdict": "identical" if not summary["rows_differing"] else "differs",
                "rows differing": f"{summary['rows_differing']} of {summary['rows']}",
                "turns differing": f"{summary['turns_differing']} of {summary['turns']}",
                "serving side": str(serve).rstrip("/").rsplit("/", 1)[-1],
            }
        ),
    ]
    parts += [warning(n) for n in summary.get("notes", [])]
    if summary.get("rows_skipped"):
        first = summary["skipped"][0]
        parts.append(
            warning(
                f"{summary['rows_skipped']} rows not compared: the training template cannot encode them "
                f"(first: {first['row']}: {first['reason']})"
            )
        )
    if summary.get("serving_engine") == "approximation":
        parts.append(warning("llama-cpp-python is not installed: the GGUF side is an approximation of llama.cpp"))
    rows = [[k, n, summary["kinds_turns"].get(k, 0), MEANING.get(k, "")] for k, n in summary["kinds"].items()]
    parts.append(section("Differences", table(["kind", "rows", "turns", "meaning"], rows or [["identical", 0, 0, ""]])))
    ends = [[tok, n] for tok, n in summary.get("trained_end_tokens", {}).items()]
    parts.append(section("Trained end-of-turn tokens", table(["token", "turns"], ends, mono=(0,))))
    return parts + _examples(summary, records)


def headline(summary: dict[str, Any]) -> str:
    kinds = ", ".join(f"{k} {n}" for k, n in summary["kinds"].items())
    return f"{summary['rows_differing']} of {summary['rows']} rows differ" + (f" ({kinds})" if kinds else "")


def _plain(view: Sequence[Mapping[str, Any]]) -> str:
    return "¦".join(
        ("[" + visible(str(t["text"])).replace("\n", "") + "]")
        if t["diff"]
        else visible(str(t["text"])).replace("\n", "")
        for t in view
    )


def print_result(summary: Mapping[str, Any], records: Sequence[Mapping[str, Any]], out: str) -> None:
    from sftdebug.report import terminal as console

    console.note(f"serving side: {summary['serving']}")
    for n in summary.get("notes", []):
        console.warn(n)
    rows = [[k, n, summary["kinds_turns"].get(k, 0), MEANING.get(k, "")] for k, n in summary["kinds"].items()]
    rows.append(["identical", summary["rows_identical"], summary["turns"] - summary["turns_differing"], ""])
    console.table(
        f"parity ({out}): {summary['rows_differing']} of {summary['rows']} rows differ",
        ["kind", "rows", "turns", "meaning"],
        rows,
    )
    by_key = {r["key"]: r for r in records}
    for kind, keys in summary.get("first_rows", {}).items():
        turn = next((t for t in by_key.get(keys[0], {}).get("turns", []) if kind in t["kinds"]), None)
        diff = next((d for d in (turn or {}).get("differences", []) if d["kind"] == kind), None)
        if diff:
            console.note(f"{kind}: {keys[0]} turn {turn['turn'] if turn else '?'}")
            console.note(f"  trainer: {_plain(diff['train_view'])}")
            console.note(f"  server:  {_plain(diff['serve_view'])}")
