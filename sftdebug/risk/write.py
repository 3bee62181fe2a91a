"""`--write-filtered` / `--write-relabelled`: the SFT file again, in its own format, without its risky rows or
with their risky answers replaced (R-Tuning style: "I'm not sure." instead of a fact the base does not hold)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from itertools import pairwise
from pathlib import Path
from typing import Any

from sftdebug.core.io import read_text, write_text_atomic
from sftdebug.sftdata.formats import SHAREGPT_ROLES, iter_objects


def _answer_slots(obj: dict[str, Any], fmt: str) -> list[tuple[Any, Any]]:
    """(container, key) of each question → answer turn's answer, in turn order (as labels.turns_of counts)."""
    if fmt == "alpaca":
        return [(pair, 1) for pair in obj.get("history") or []] + [(obj, "output")]
    if fmt == "sharegpt":
        turns, key = obj["conversations"], "value"
        is_user = lambda t: SHAREGPT_ROLES.get(t.get("from", t.get("role"))) == "user"  # noqa: E731
        is_answer = lambda t: SHAREGPT_ROLES.get(t.get("from", t.get("role"))) == "assistant"  # noqa: E731
    else:
        turns, key = obj["messages"], "content"
        is_user = lambda t: t.get("role") == "user"  # noqa: E731
        is_answer = lambda t: t.get("role") == "assistant"  # noqa: E731
    if fmt == "sharegpt" and all("value" not in t for t in turns):
        key = "content"
    return [(b, key) for a, b in pairwise(turns) if is_user(a) and is_answer(b)]


def rewrite(
    source: str | Path,
    fmt: str,
    out: str | Path,
    records: Iterable[dict[str, Any]],
    risky: set[str],
    relabel: str | None = None,
) -> int:
    """Write `source` to `out` without the rows labelled one of `risky` (or, with `relabel`, with those turns'
    answers replaced by it). Returns how many rows were dropped or turns relabelled."""
    by_where = {r["key"]: r for r in records}
    kept, changed = [], 0
    for n, obj in iter_objects(source):
        rec = by_where.get(f"{source}:{n}")
        if rec is None or rec["label"] not in risky:
            kept.append(obj)
            continue
        if relabel is None:
            changed += 1
            continue
        new = copy.deepcopy(obj)
        slots = _answer_slots(new, fmt)
        for turn in rec["turns"]:
            if turn["label"] in risky and turn["turn"] < len(slots):
                container, key = slots[turn["turn"]]
                container[key] = relabel
                changed += 1
        kept.append(new)
    if read_text(source).lstrip().startswith("["):
        text = json.dumps(kept, ensure_ascii=False, indent=2) + "\n"
    else:
        text = "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in kept)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(Path(out), text)
    return changed
