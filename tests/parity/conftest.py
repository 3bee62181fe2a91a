"""Fixtures of the parity tests: SmolLM2-135M-Instruct's real tokenizer and chat template (`make real`), and
tokenizer-only copies of it with one planted mutation each, as a release could ship them by mistake."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

# shared/realdata beside the checkout (CI, /work/main), or beside an ancestor (a worktree under /work/wt)
REALDATA = next(
    (p / "shared" / "realdata" for p in Path(__file__).resolve().parents[3:] if (p / "shared" / "realdata").is_dir()),
    Path(__file__).resolve().parents[3] / "shared" / "realdata",
)
FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json")


@pytest.fixture(scope="session")
def smollm2() -> Path:
    from sftdebug.core.errors import UsageError
    from sftdebug.lab.real import real_model

    try:
        return real_model("smollm2-135m-instruct")
    except UsageError as exc:
        pytest.fail(f"{exc} (make test runs make real first)")


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for name in FILES:
        if (src / name).is_file():
            shutil.copy(src / name, dst / name)
    return dst


def _template(folder: Path, text: str) -> None:
    (folder / "chat_template.jinja").write_text(text, encoding="utf-8")


@pytest.fixture(scope="session")
def mutants(smollm2: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name -> tokenizer folder: `same` is an identical copy; each other one plants one mutation."""
    from transformers import AutoTokenizer

    root = tmp_path_factory.mktemp("mutants")
    original = (smollm2 / "chat_template.jinja").read_text(encoding="utf-8")
    out = {name: _copy(smollm2, root / name) for name in ("same", "bos", "no_system", "no_newline", "think", "split")}
    tok = AutoTokenizer.from_pretrained(out["bos"])  # a BOS in the template of a tokenizer that adds one too
    tok.add_bos_token = True
    tok.chat_template = "{{ bos_token }}" + original
    tok.save_pretrained(out["bos"])
    start = original.index("{% if loop.first")  # the default system prompt removed
    _template(out["no_system"], original[:start] + original[original.index("{% endif %}", start) + 11 :])
    _template(out["no_newline"], original.replace("'<|im_start|>assistant\n'", "'<|im_start|>assistant'"))
    stripped = (
        "(message['content'].split('</think>')[-1].lstrip() if message['role'] == 'assistant' else message['content'])"
    )
    _template(out["think"], original.replace("message['content']", stripped))  # reasoning stripped from history
    tj = json.loads((out["split"] / "tokenizer.json").read_text(encoding="utf-8"))  # <|im_start|> no longer special
    tj["added_tokens"] = [t for t in tj["added_tokens"] if t["content"] != "<|im_start|>"]
    (out["split"] / "tokenizer.json").write_text(json.dumps(tj), encoding="utf-8")
    cfg = json.loads((out["split"] / "tokenizer_config.json").read_text(encoding="utf-8"))
    (out["split"] / "tokenizer_config.json").write_text(json.dumps({**cfg, "bos_token": "<|endoftext|>"}))
    return out


@pytest.fixture(scope="session")
def think_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Multi-turn rows whose earlier answers carry reasoning (rows 1 and 3), one single-turn row, one with a system
    prompt."""
    rows = [
        [("user", "What is 2+2?"), ("assistant", "<think>\nAdd two and two.\n</think>\n\n4"), ("user", "And 3+3?"),
         ("assistant", "<think>\nThree and three.\n</think>\n\n6")],
        [("user", "Capital of France?"), ("assistant", "<think>\nEasy.\n</think>\n\nParis")],
        [("system", "Be brief."), ("user", "Hi"), ("assistant", "<think>\nGreet.\n</think>\n\nHello!"),
         ("user", "Bye"), ("assistant", "Goodbye.")],
    ]  # fmt: skip
    path = tmp_path_factory.mktemp("data") / "think.jsonl"
    lines = [json.dumps({"messages": [{"role": r, "content": c} for r, c in row]}) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
