"""Chat-template rendering and the default role tokens sftdebug's own SFT uses.

Rendering always goes through the tokenizer's own `chat_template` (from `tokenizer_config.json` or
`chat_template.jinja`), exactly as inference servers do, so what we probe is what users serve.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sftdebug.core.errors import UsageError

# Role tokens added to a plain pretrained model by sftdebug's SFT (lab and overfit runs). `<|end|>` becomes
# the eos so that a model which learned to stop ends generation by itself.
SYSTEM, USER, ASSISTANT, END = "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"
ROLE_TOKENS = (SYSTEM, USER, ASSISTANT, END)

# The space after the role tag belongs to the content, not the generation prompt: the answer then starts
# with " Word", tokenized exactly as in pretraining, and the generation prompt is a token prefix of the
# full conversation (what training saw is what inference asks).
DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + ' ' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


def validate_messages(messages: Sequence[Any], where: str = "messages") -> list[dict[str, str]]:
    """Check a chat prompt's shape; return it as plain dicts. Raises UsageError naming the bad field."""
    if not isinstance(messages, list | tuple) or not messages:
        raise UsageError(f"{where}: expected a non-empty list of {{role, content}} messages")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise UsageError(f"{where}[{i}]: expected {{'role': str, 'content': str}}, got {m!r:.80}")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def stop_ids(tokenizer: Any, generation_eos: int | Sequence[int] | None) -> set[int]:
    """The ids that end generation at inference: the tokenizer's eos plus generation_config's `eos_token_id`
    (one id or a list; chat models often list their end-of-turn token there)."""
    ids = set() if tokenizer.eos_token_id is None else {int(tokenizer.eos_token_id)}
    extra = [generation_eos] if isinstance(generation_eos, int) else generation_eos or []
    return ids | {int(i) for i in extra}


def render_chat(tokenizer: Any, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True) -> str:
    """Render messages with the tokenizer's own chat template (no tokenization)."""
    if not getattr(tokenizer, "chat_template", None):
        name = getattr(tokenizer, "name_or_path", "this model")
        raise UsageError(
            f"{name} has no chat template (no chat_template in tokenizer_config.json or chat_template.jinja): "
            "it looks like a base model; give it raw-text prompts or use the SFT checkpoint"
        )
    text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=add_generation_prompt)
    assert isinstance(text, str), "apply_chat_template(tokenize=False) must return text"
    return text
