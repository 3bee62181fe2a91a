"""The batch lint's core on hand-made collator output: rows encoded the correct way (sftdata/encode.py), then broken
the ways collators break them, each caught by its check and only by it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sftdebug.data.batches import batch_checks, batch_records
from sftdebug.data.lint import template_facts
from sftdebug.sftdata.encode import IGNORE, encode_conversation, eos_ids


@pytest.fixture(scope="module")
def tok(lab: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(lab / "sft-healthy")


def _rows(lab: Path, tok: Any, n: int = 6) -> list[tuple[list[int], list[int]]]:
    rows = [json.loads(x)["messages"] for x in (lab / "data" / "sft-healthy.jsonl").read_text().splitlines()[:n]]
    encoded = [encode_conversation(tok, m, "all", False) for m in rows]
    return [(e.input_ids, e.labels) for e in encoded]


def _batch(rows: list[tuple[list[int], list[int]]], pad: int) -> dict[str, list[list[int]]]:
    width = max(len(i) for i, _ in rows)
    return {
        "input_ids": [i + [pad] * (width - len(i)) for i, _ in rows],
        "labels": [la + [IGNORE] * (width - len(la)) for _, la in rows],
        "attention_mask": [[1] * len(i) + [0] * (width - len(i)) for i, _ in rows],
    }


def _statuses(lab: Path, tok: Any, rows: list[tuple[list[int], list[int]]]) -> dict[str, str]:
    eos = eos_ids(tok, lab / "sft-healthy")
    records = batch_records(tok, [_batch(rows, tok.pad_token_id)], eos)
    return {c["id"]: c["status"] for c in batch_checks(records, template_facts(tok, ["user", "assistant"], eos))}


def _eos_masked(ids: list[int], labels: list[int], eos: set[int]) -> tuple[list[int], list[int]]:
    return ids, [IGNORE if i in eos else t for i, t in zip(ids, labels, strict=True)]


def _prompt_trained(ids: list[int], labels: list[int]) -> tuple[list[int], list[int]]:
    return ids, list(ids)


def _cut(ids: list[int], labels: list[int]) -> tuple[list[int], list[int]]:
    return ids[:-3], labels[:-3]


def _nothing(ids: list[int], labels: list[int]) -> tuple[list[int], list[int]]:
    return ids, [IGNORE] * len(ids)


@pytest.mark.parametrize(
    ("break_row", "failing"),
    [
        (None, {}),
        ("eos", {"eos_trained": "fail"}),
        (_prompt_trained, {"prompt_trained": "warn"}),
        (_cut, {"truncation": "fail"}),
        (_nothing, {"nothing_trained": "warn"}),
    ],
)
def test_each_broken_collation_is_caught_by_its_check(lab: Path, tok: Any, break_row: Any, failing: dict) -> None:
    rows = _rows(lab, tok)
    eos = set(eos_ids(tok, lab / "sft-healthy"))
    if break_row == "eos":
        rows = [_eos_masked(i, la, eos) for i, la in rows]
    elif break_row is not None:
        rows = [break_row(*rows[0]), *rows[1:]]
    got = _statuses(lab, tok, rows)
    watched = ("eos_trained", "prompt_trained", "truncation", "nothing_trained", "chat_template")
    assert {k: got[k] for k in watched if got[k] != "pass"} == failing


def test_multi_turn_policy_is_read_from_the_labels(lab: Path, tok: Any) -> None:
    rows = [json.loads(x)["messages"] for x in (lab / "data" / "sft-healthy.jsonl").read_text().splitlines()[:6]]
    multi = [m for m in rows if sum(x["role"] == "assistant" for x in m) > 1]
    assert multi, "the lab's SFT data has multi-turn rows"
    encoded = [encode_conversation(tok, m, "last", False) for m in multi]
    eos = eos_ids(tok, lab / "sft-healthy")
    records = batch_records(tok, [_batch([(e.input_ids, e.labels) for e in encoded], tok.pad_token_id)], eos)
    checks = {c["id"]: c for c in batch_checks(records, template_facts(tok, ["user", "assistant"], eos))}
    assert "this run uses last" in checks["multi_turn"]["message"]
    assert checks["eos_trained"]["status"] == "pass"  # only trained turns need their eos
