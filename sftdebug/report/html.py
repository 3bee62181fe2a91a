"""Self-contained HTML: inline CSS, no scripts, no network requests; every piece of text escaped.

Model outputs and data are untrusted: everything goes through `esc()` (or the helpers that call it), and
only this module writes markup.

    page = document("hallucination: sft-conflict", [section("Headline", kv_table({...}))])
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;
color:#1d2430;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde2ea}
.sub{color:#5b6575;margin-top:0}
table{border-collapse:collapse;margin:.6rem 0;font-size:13px}
th,td{border:1px solid #dde2ea;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f5f9}td.num{text-align:right;font-variant-numeric:tabular-nums}
.warn{background:#fff4e5;border-left:4px solid #f59e0b;padding:.5rem .8rem;margin:.6rem 0}
.bad{color:#b42318;font-weight:600}.good{color:#067647}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #dde2ea;border-radius:6px;padding:.6rem 1rem;
min-width:11rem}.card b{display:block;font-size:1.4rem}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;white-space:pre-wrap;
word-break:break-word}
details{margin:.5rem 0}summary{cursor:pointer;font-weight:600}
.toks{line-height:1.9;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
.toks{overflow-wrap:anywhere}.tok{white-space:pre-wrap;border:1px solid #c9d1dd;border-radius:3px;padding:0 1px;margin:0 1px}
.r-system{background:#ede9fe}.r-user{background:#e0f2fe}.r-tool{background:#fef9c3}.r-template{background:#e5e7eb}
.r-assistant{background:#f3f4f6}.tok.trained{background:#bbf7d0;border-color:#16a34a}
.tok.eos{font-weight:700;border:2px solid #b42318}.tok.masked{color:#6b7280}
.pv{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;line-height:1.9}
.pv .lab{display:inline-block;width:4.5rem;color:#5b6575}.pv .t{border:1px solid #c9d1dd;border-radius:3px;
padding:0 1px;margin:0 1px;white-space:pre-wrap}.pv .d{border:2px solid #b42318;background:#fee4e2}
.s-fail{color:#b42318;font-weight:700}.s-warn{color:#b54708;font-weight:700}.s-pass{color:#067647}.s-skip{color:#5b6575}
"""


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Markup(str):
    """Markup built by this module from escaped parts: passed through `esc` unchanged."""


def esc(value: Any) -> str:
    if isinstance(value, Markup):
        return value
    # NUL and other C0 controls are not allowed in HTML text: shown as visible escapes instead.
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", "" if value is None else str(value))
    return html.escape(text, quote=True)


def link(href: str, text: str) -> Markup:
    return Markup(f'<a href="{esc(href)}">{esc(text)}</a>')


def fmt(value: Any, digits: int = 3) -> str:
    if isinstance(value, Markup):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if value is None:
        return "—"
    return str(value)


def pct(value: float | None, ci: Sequence[float] | None = None) -> str:
    if value is None:
        return "—"
    text = f"{100 * value:.1f}%"
    if ci:
        text += f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"
    return text


def img(uri: str, alt: str) -> Markup:
    """An embedded image (a data: URI from report.plots): nothing is fetched."""
    return Markup(f'<img src="{esc(uri)}" alt="{esc(alt)}" style="max-width:100%">')


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], mono: Sequence[int] = ()) -> str:
    """A table of escaped cells; numbers right-aligned, columns listed in `mono` in a monospace font."""
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            cls = "num" if isinstance(v, int | float) and not isinstance(v, bool) else ("mono" if i in mono else "")
            cells.append(f'<td class="{cls}">{esc(fmt(v))}</td>' if cls else f"<td>{esc(fmt(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


REPLICA_COLUMNS = ("model", "endpoint", "requests", "failures", "mean latency (s)")


def replica_rows(summary: Mapping[str, Any]) -> list[list[Any]]:
    """The rows of a run's endpoints when it used several replicas of a model (summary.json `replicas`)."""
    keys = ("model", "endpoint", "requests", "failures", "mean_latency_s")
    return [[r.get(k) for k in keys] for r in summary.get("replicas") or []]


def kv_table(data: Mapping[str, Any]) -> str:
    return table(["", ""], [[k, v] for k, v in data.items()])


def status(value: str) -> Markup:
    """A check status (pass / warn / fail / skip), coloured."""
    return Markup(f'<span class="s-{esc(value)}">{esc(value)}</span>')


def visible(text: str) -> str:
    """Whitespace made visible, so token boundaries and stray spaces show."""
    return text.replace(" ", "·").replace("\t", "→").replace("\n", "↵\n")


def tokens(view: Iterable[Mapping[str, Any]]) -> str:
    """A row's tokens as boxes: background by role (green when trained), eos outlined in red."""
    spans = []
    for t in view:
        cls = f"tok r-{esc(t['role'])} {'trained' if t['trained'] else 'masked'}{' eos' if t['eos'] else ''}"
        title = f"{t['role']}, {'trained' if t['trained'] else 'masked'}{', eos' if t['eos'] else ''}"
        if t.get("n", 1) > 1:
            title += f", {t['n']} byte tokens"
        spans.append(f'<span class="{cls}" title="{esc(title)}">{esc(visible(t["text"]))}</span>')
    return f'<div class="toks">{"".join(spans)}</div>'


def _one_line(text: str) -> str:
    """Whitespace made visible with newlines shown as ↵ only: aligned strips stay one line per side."""
    return visible(text).replace("\n", "")


def aligned_tokens(rows: Iterable[tuple[str, Iterable[Mapping[str, Any]]]]) -> str:
    """Token strips one above the other (e.g. trainer vs server), each token boxed, the differing ones (`diff`)
    outlined in red; position and id on hover."""
    lines = []
    for label, view in rows:
        spans = "".join(
            f'<span class="t{" d" if t.get("diff") else ""}" title="pos {esc(t.get("pos"))} · id {esc(t.get("id"))}">'
            f"{esc(_one_line(str(t['text'])))}</span>"
            for t in view
        )
        lines.append(f'<div><span class="lab">{esc(label)}</span>{spans}</div>')
    return f'<div class="pv">{"".join(lines)}</div>'


def cards(items: Mapping[str, str]) -> str:
    return (
        '<div class="cards">'
        + "".join(f'<div class="card">{esc(k)}<b>{esc(v)}</b></div>' for k, v in items.items())
        + "</div>"
    )


def warning(text: str) -> str:
    return f'<div class="warn">{esc(text)}</div>'


def section(title: str, *parts: str, anchor: str | None = None) -> str:
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f"<section{ident}><h2>{esc(title)}</h2>{''.join(parts)}</section>"


def details(summary: str, *parts: str, open: bool = False) -> str:
    return f"<details{' open' if open else ''}><summary>{esc(summary)}</summary>{''.join(parts)}</details>"


def paragraph(text: str, cls: str = "") -> str:
    return f'<p class="{esc(cls)}">{esc(text)}</p>' if cls else f"<p>{esc(text)}</p>"


def document(title: str, subtitle: str, body: Sequence[str]) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        # No external loads of any kind: the report must open offline and leak nothing.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{esc(title)}</title>'
        f'<style>{CSS}</style></head><body><h1>{esc(title)}</h1><p class="sub">{esc(subtitle)}</p>'
        + "".join(body)
        + "</body></html>\n"
    )
