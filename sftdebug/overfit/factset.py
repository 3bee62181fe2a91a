"""A fact set on disk, as `sftdebug overfit make` writes it: tokens.json (the new entity tokens, written last so
its presence means the set is complete), facts.jsonl, train.jsonl (chat rows to mix into SFT) and eval.jsonl.

    make_dir(Path("facts"), n_facts=50, relations=("likes", "mentors"), repeats=3, control_share=0.2, seed=0)
    entities, items, rows = load_dir(Path("facts"))
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sftdebug.core.errors import UsageError
from sftdebug.core.io import read_jsonl, write_json_atomic, write_jsonl
from sftdebug.overfit.canary import EvalItem, eval_items, make_facts, to_dicts, tokens, train_rows


def make_dir(
    out: Path, n_facts: int, relations: Sequence[str], repeats: int, control_share: float, seed: int
) -> dict[str, Any]:
    """Write tokens.json, facts.jsonl, train.jsonl and eval.jsonl for a new fact set."""
    try:
        facts = make_facts(n_facts, relations, control_share, seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "facts.jsonl", to_dicts(facts))
    write_jsonl(out / "train.jsonl", train_rows(facts, repeats))
    write_jsonl(out / "eval.jsonl", to_dicts(eval_items(facts)))
    info = {
        "tokens": tokens(facts),
        "n_facts": n_facts,
        "relations": list(relations),
        "repeats": repeats,
        "control_share": control_share,
        "seed": seed,
    }
    write_json_atomic(out / "tokens.json", info)  # last: its presence means the set is complete
    return info


def load_dir(facts_dir: Path) -> tuple[list[str], list[EvalItem], list[dict[str, Any]]]:
    """(entity tokens, eval items, train rows) of a fact set made by `make_dir`."""
    if not (facts_dir / "tokens.json").is_file():
        raise UsageError(f"{facts_dir} is not a fact set (no tokens.json): make one with `sftdebug overfit make`")
    info = json.loads((facts_dir / "tokens.json").read_text(encoding="utf-8"))
    items = []
    for n, obj in read_jsonl(facts_dir / "eval.jsonl"):
        try:
            items.append(EvalItem(**obj))
        except TypeError as exc:
            raise UsageError(f"{facts_dir / 'eval.jsonl'}:{n}: {exc}") from None
    rows = [obj for _, obj in read_jsonl(facts_dir / "train.jsonl")]
    return list(info["tokens"]), items, rows
