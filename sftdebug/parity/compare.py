"""Pure: two token sequences for the same prompt — the trainer's and the server's — aligned, every difference
located and named. No tokenizer is loaded here: each side comes with its own `decode` and its special ids.

    diffs = compare_prompt(train, serve, layout)      # [] when the server feeds exactly the trained tokens
    [d.kind for d in diffs]                           # e.g. ["system_prompt_differs"]

Kinds (README, `sftdebug parity`): a leading BOS the server doubles, drops or adds; a different default system
prompt; a different generation prompt (the tokens between the last message and the answer); whitespace only;
a special token spelled in plain pieces on one side (`special_token_split`); earlier assistant turns rewritten
(`history_rewritten`, e.g. reasoning stripped); the same text in other ids (`tokenization_differs`); anything
else the templates render differently (`template_differs`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

KINDS = (
    "bos_doubled",
    "bos_missing",
    "bos_added",
    "system_prompt_differs",
    "generation_prompt_differs",
    "whitespace",
    "special_token_split",
    "history_rewritten",
    "tokenization_differs",
    "template_differs",
    "stop_token_mismatch",
    "serve_error",
)
CONTEXT = 6  # tokens shown either side of a difference
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Side:
    """One side's prompt tokens and how that side turns ids back into text."""

    ids: Sequence[int]
    decode: Callable[[Sequence[int]], str]
    special: frozenset[int] = frozenset()
    bos: int | None = None


@dataclass(frozen=True)
class Region:
    """Tokens [start, end) of the trainer's prompt: a message (`part="message"`), an earlier assistant turn's
    generation prompt (`"prompt"`) or answer (`"answer"`), or the final generation prompt (`"generation"`).
    `content` is the message text (to find where it starts), empty for template-only parts."""

    start: int
    end: int
    role: str
    part: str
    content: str = ""


@dataclass(frozen=True)
class Difference:
    kind: str
    train_pos: int  # first differing position in the trainer's tokens
    serve_pos: int  # and in the server's
    train_text: str  # the differing text, each side decoding its own ids
    serve_text: str
    train_len: int = 1  # differing tokens on each side
    serve_len: int = 1


def _leading(ids: Sequence[int], bos: int | None) -> int:
    n = 0
    while bos is not None and n < len(ids) and ids[n] == bos:
        n += 1
    return n


def _bos_difference(train: Side, serve: Side) -> tuple[Difference | None, int, int]:
    """How many leading BOS each side has, and the difference when they disagree. Counted in text as well as in
    ids: a BOS the server spells in plain pieces (same text) is a split special token, not a missing BOS."""
    bos_t = train.bos
    bos_s = serve.bos if serve.bos is not None else bos_t
    na, nb = _leading(train.ids, bos_t), _leading(serve.ids, bos_s)
    if na == nb or bos_t is None:
        return None, na, nb
    text = train.decode([bos_t])
    if text and _leading_text(train.decode(train.ids), text) == _leading_text(serve.decode(serve.ids), text):
        return None, 0, 0
    kind = ("bos_doubled" if na else "bos_added") if nb > na else "bos_missing"
    text_a = train.decode(list(train.ids[:na]))
    text_b = serve.decode(list(serve.ids[:nb]))
    return Difference(kind, 0, 0, text_a, text_b, na, nb), na, nb


def _leading_text(text: str, bos: str) -> int:
    n = 0
    while text.startswith(bos, n * len(bos)):
        n += 1
    return n


def _specials(ids: Sequence[int], side: Side) -> Counter[str]:
    return Counter(side.decode([t]) for t in ids if t in side.special)


def _content_start(train: Side, region: Region) -> int:
    """The token of `region` where the message's content begins: the last start position whose suffix of the
    region still decodes to text holding the content's head (bisection: shorter suffixes hold less)."""
    head = region.content.strip()[:24]
    ids = list(train.ids)
    if not head or head not in train.decode(ids[region.start : region.end]):
        return region.start
    lo, hi = region.start, region.end - 1  # invariant: the suffix from lo holds the head
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if head in train.decode(ids[mid : region.end]):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _marker_start(train: Side, region: Region) -> int:
    """Where the role marker in front of a message's content begins: the last special token before the content,
    or the one before it when it sits within three tokens (`<|start_header_id|>user<|end_header_id|>`)."""
    start = _content_start(train, region)
    marks = [i for i in range(region.start, start) if train.ids[i] in train.special and train.ids[i] != train.bos]
    if not marks:
        return region.start
    m = marks[-1]
    while len(marks) > 1 and marks[-2] >= m - 3:
        marks.pop()
        m = marks[-1]
    return m


def _locate(i1: int, i2: int, layout: Sequence[Region], train: Side, texts: tuple[str, str]) -> str:
    """The kind of a difference whose text differs, from where it sits in the trainer's prompt."""
    gen = next((r.start for r in layout if r.part == "generation"), len(train.ids))
    if i1 >= gen or i2 > gen:
        return "generation_prompt_differs"
    ta, tb = texts
    if _WS.sub("", ta) == _WS.sub("", tb):
        return "whitespace"
    hit = [r for r in layout if r.start < max(i2, i1 + 1) and r.end > i1]
    if any(r.role == "system" for r in hit):
        return "system_prompt_differs"
    first = next((r for r in layout if r.role != "system" and r.part == "message"), None)
    if first is not None and i1 < _content_start(train, first):
        # before the first message's own role marker: a system block (the row's, or one the template injects)
        return "system_prompt_differs" if i1 < _marker_start(train, first) else "template_differs"
    if any(r.role == "assistant" and r.part == "answer" for r in hit):
        return "history_rewritten"
    return "template_differs"


def compare_prompt(train: Side, serve: Side, layout: Sequence[Region]) -> list[Difference]:
    """Every difference between the two prompts, in order (empty: identical)."""
    if list(train.ids) == list(serve.ids):
        return []
    bos_diff, na, nb = _bos_difference(train, serve)
    out = [bos_diff] if bos_diff else []
    a, b = list(train.ids[na:]), list(serve.ids[nb:])
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        ta, tb = train.decode(a[i1:i2]), serve.decode(b[j1:j2])
        if ta == tb:
            split = _specials(a[i1:i2], train) != _specials(b[j1:j2], serve)
            kind = "special_token_split" if split else "tokenization_differs"
        else:
            kind = _locate(i1 + na, i2 + na, layout, train, (ta, tb))
        out.append(Difference(kind, i1 + na, j1 + nb, ta, tb, i2 - i1, j2 - j1))
    return out


def context(side: Side, pos: int, span: int) -> list[dict[str, object]]:
    """The tokens around positions [pos, pos + span) of one side (ids and their text), the differing ones marked;
    a span of 0 (tokens only the other side has) marks nothing and shows where they would sit."""
    shown = min(span, 2 * CONTEXT)  # a long difference (a whole system prompt) is cut, its start shown
    lo, hi = max(0, pos - CONTEXT), min(len(side.ids), pos + shown + CONTEXT)
    return [
        {"pos": i, "id": int(side.ids[i]), "text": side.decode([side.ids[i]]), "diff": pos <= i < pos + span}
        for i in range(lo, hi)
    ]
