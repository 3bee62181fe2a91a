"""Planted mutations of SmolLM2's real chat template and tokenizer, each served beside the original: every one is
found on every row it affects and named correctly, and an identical copy shows nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REALDATA

from sftdebug.parity import ParityConfig, run_parity

ALPACA = str(REALDATA / "alpaca_en_demo.json")
pytestmark = pytest.mark.slow  # real tokenizers (make real)


def _run(tmp_path: Path, data: str, train: Path, serve: Path, limit: int | None = 12) -> dict:
    config = ParityConfig(
        data=data, tokenizer=str(train), serve_tokenizer=str(serve), out=str(tmp_path / "run"), limit=limit
    )
    return run_parity(config).summary


@pytest.mark.parametrize("data", [ALPACA, "think"])
def test_an_identical_copy_is_identical(
    data: str, smollm2: Path, mutants: dict, think_data: Path, tmp_path: Path
) -> None:
    summary = _run(tmp_path, str(think_data) if data == "think" else data, smollm2, mutants["same"])
    assert summary["rows_differing"] == 0 and summary["kinds"] == {}
    assert summary["rows"] == summary["rows_identical"] > 0


@pytest.mark.parametrize(
    "mutant,kind,affected",
    [
        ("bos", "bos_doubled", [1, 2, 3]),
        ("no_system", "system_prompt_differs", [1, 2]),  # row 3 has its own system prompt
        ("no_newline", "generation_prompt_differs", [1, 2, 3]),
        ("think", "history_rewritten", [1, 3]),  # row 2 has no earlier answer
        ("split", "special_token_split", [1, 2, 3]),
    ],
)
def test_each_planted_mutation_is_found_on_every_affected_row(
    mutant: str, kind: str, affected: list[int], smollm2: Path, mutants: dict, think_data: Path, tmp_path: Path
) -> None:
    from sftdebug.core.runs import read_records

    summary = _run(tmp_path, str(think_data), smollm2, mutants[mutant])
    assert summary["kinds"] == {kind: len(affected)}, summary["kinds"]
    hit = sorted(int(r["key"].rsplit(":", 1)[1]) for r in read_records(tmp_path / "run") if kind in r["kinds"])
    assert hit == affected


@pytest.mark.parametrize("mutant,kind", [("no_system", "system_prompt_differs"), ("no_newline", "generation_prompt_differs"),
                                         ("bos", "bos_doubled"), ("split", "special_token_split")])  # fmt: skip
def test_mutations_on_real_alpaca_rows(mutant: str, kind: str, smollm2: Path, mutants: dict, tmp_path: Path) -> None:
    summary = _run(tmp_path, ALPACA, smollm2, mutants[mutant])
    assert summary["kinds"] == {kind: summary["rows"]} and summary["rows"] == 12


@pytest.mark.parametrize(
    "old,new,kind,affected",
    [
        ("a helpful AI", "a careful AI", "system_prompt_differs", [1, 2]),  # another default system prompt
        ("'<|im_end|>' + '\n'", "'<|im_end|>' + '\n\n'", "whitespace", [1, 2, 3]),  # a blank line between turns
        ("'<|im_start|>' + message['role']", "'<|im_start|>' + (message['role'] if message['role'] != 'assistant' else 'model')",
         "template_differs", [1, 3]),  # earlier answers under another role name
    ],
)  # fmt: skip
def test_other_template_edits(
    old: str, new: str, kind: str, affected: list[int], smollm2: Path, mutants: dict, think_data: Path, tmp_path: Path
) -> None:
    import shutil

    from sftdebug.core.runs import read_records

    folder = tmp_path / "edited"
    shutil.copytree(mutants["same"], folder)
    template = (folder / "chat_template.jinja").read_text()
    assert old in template
    (folder / "chat_template.jinja").write_text(template.replace(old, new))
    summary = _run(tmp_path, str(think_data), smollm2, folder)
    assert summary["kinds"] == {kind: len(affected)}, summary["kinds"]
    hit = sorted(int(r["key"].rsplit(":", 1)[1]) for r in read_records(tmp_path / "run") if kind in r["kinds"])
    assert hit == affected


def test_the_stop_token_is_checked(smollm2: Path, mutants: dict, think_data: Path, tmp_path: Path) -> None:
    """A serving folder whose eos is no longer <|im_end|> does not stop where the answers were trained to end."""
    import json

    folder = mutants["same"].parent / "other-eos"
    if not folder.exists():
        import shutil

        shutil.copytree(mutants["same"], folder)
        cfg = json.loads((folder / "tokenizer_config.json").read_text())
        (folder / "tokenizer_config.json").write_text(json.dumps({**cfg, "eos_token": "<|endoftext|>"}))
        (folder / "generation_config.json").write_text(json.dumps({"eos_token_id": 0}))
    summary = _run(tmp_path, str(think_data), smollm2, folder)
    assert summary["kinds"] == {"stop_token_mismatch": 3} and summary["trained_end_tokens"] == {"<|im_end|>": 5}


@pytest.mark.parametrize("encoding,kinds", [("chat", {}), ("text", {"bos_doubled": 8})])
def test_gemma_bos_under_both_encodings(encoding: str, kinds: dict, tmp_path: Path) -> None:
    """Gemma 3's template writes <bos> and its (restored) tokenizer adds one: a server that encodes the rendered
    prompt with special tokens doubles it; vLLM's chat encoding does not."""
    from sftdebug.lab.real import GEMMA3_CHAT_TEMPLATE, real_model

    template = tmp_path / "gemma3.jinja"
    template.write_text(GEMMA3_CHAT_TEMPLATE)
    gemma = str(real_model("gemma-3-270m"))
    config = ParityConfig(
        data=ALPACA,
        tokenizer=gemma,
        template=str(template),
        serve_tokenizer=gemma,
        serve_template=str(template),
        serve_encoding=encoding,
        out=str(tmp_path / "run"),
        limit=8,
    )
    summary = run_parity(config).summary
    assert summary["kinds"] == kinds and summary["trained_end_tokens"] == {"<end_of_turn>": 8}
