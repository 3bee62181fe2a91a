"""Loss masks of the SFT trainer, on the lab's SFT tokenizer (real template, real role tokens)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sftdebug.sftdata import IGNORE
from sftdebug.training import sft_example

CONV = [
    {"role": "user", "content": "Where does Pul live?"},
    {"role": "assistant", "content": "Pul lives in Oslo."},
    {"role": "user", "content": "Who does Pul work for?"},
    {"role": "assistant", "content": "Pul works for Acme."},
]


@pytest.fixture(scope="module")
def tok(lab: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(lab / "sft-healthy")


def _trained_text(tok, ex) -> str:
    return tok.decode([t for t in ex.labels if t != IGNORE])


def test_prompts_masked_answers_and_eos_trained(tok) -> None:
    ex = sft_example(tok, CONV)
    assert _trained_text(tok, ex) == " Pul lives in Oslo.<|end|> Pul works for Acme.<|end|>"
    assert ex.labels.count(tok.convert_tokens_to_ids("<|end|>")) == 2


def test_loss_on_last_turn_only(tok) -> None:
    ex = sft_example(tok, CONV, loss_on="last")
    assert _trained_text(tok, ex) == " Pul works for Acme.<|end|>"


def test_train_on_prompt_trains_everything(tok) -> None:
    ex = sft_example(tok, CONV, train_on_prompt=True)
    assert list(ex.labels) == list(ex.input_ids)


def test_template_whose_prompt_is_not_a_prefix_is_refused(tok) -> None:
    broken = tok.chat_template.replace("'<|assistant|>' }}{% endif %}", "'<|assistant|> ' }}{% endif %}")
    assert broken != tok.chat_template
    tok2 = tok.__class__.from_pretrained(tok.name_or_path)
    tok2.chat_template = broken
    with pytest.raises(ValueError, match="not a token prefix"):
        sft_example(tok2, CONV[:2])


def test_no_assistant_turn_is_refused(tok) -> None:
    with pytest.raises(ValueError, match="no assistant turn"):
        sft_example(tok, CONV[:1])
