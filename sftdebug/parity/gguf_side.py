"""The serving side of a GGUF file, as llama.cpp serves it: the chat template embedded in the GGUF (or
`--serve-template`, as llama-server's `--chat-template-file`), the GGUF's own vocabulary, and llama-server's
rules — a leading BOS the template writes is removed when the vocabulary adds one itself (llama.cpp's
common/chat.cpp does this to avoid a double BOS), then the prompt is tokenized with special tokens added and
parsed; generation stops on every end-of-generation (EOG) token.

With llama-cpp-python installed (`make llama`) the tokenizer and the EOG set are llama.cpp's own
(`llama_tokenize`, `llama_vocab_is_eog`). Without it, an approximation, named in the summary: transformers'
GGUF tokenizer conversion for the vocabulary, the BOS added by the GGUF's `tokenizer.ggml.add_bos_token` flag
(which that conversion loses), and llama.cpp's EOG rule (eos/eot/eom ids plus the end-of-turn texts
llama-vocab.cpp lists). The template is rendered by jinja2 either way (llama.cpp's own jinja engine is not
reachable from Python): with llama-cpp-python's settings (trim_blocks, lstrip_blocks).

    serving = GGUFServing.open(Path("model.gguf"), template=None)
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sftdebug.core.errors import UsageError
from sftdebug.parity.compare import Side
from sftdebug.parity.sides import ServeError

# llama-vocab.cpp: tokens that end generation by their text (besides the eos, eot and eom ids)
EOG_TEXTS = frozenset(
    {
        "<|eot_id|>",
        "<|im_end|>",
        "<|end|>",
        "<|return|>",
        "<|call|>",
        "<end_of_turn>",
        "<|endoftext|>",
        "<|eom_id|>",
        "<EOT>",
        "_<EOT>",
        "<|end_of_text|>",
        "<end_of_utterance>",
        # fill-in-the-middle pad and repo tokens, which llama.cpp also ends generation on
        "<|fim_pad|>",
        "<fim-pad>",
        "<|fim_repo|>",
        "<|repo_name|>",
        "<fim-repo>",
        "<REPOSITORY>",
        "<reponame>",
    }
)
ENGINES = ("auto", "llama.cpp", "approximation")
CONTROL, USER_DEFINED = 3, 4  # GGUF token types that are special tokens


@dataclass
class GGUFMeta:
    template: str | None
    tokens: list[str]
    types: list[int]
    bos: int | None
    eos: int | None
    eot: int | None
    eom: int | None
    add_bos: bool


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """File descriptor 2 sent to /dev/null while C code runs (Python's sys.stderr is flushed first)."""
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def read_meta(path: Path) -> GGUFMeta:
    """The tokenizer facts of a GGUF file (a file that is not GGUF is a one-line UsageError)."""
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path))
    except Exception as exc:
        raise UsageError(f"--serve-gguf {path}: not a readable GGUF file ({str(exc).splitlines()[0][:120]})") from None

    def get(key: str) -> Any:
        f = reader.fields.get(key)
        return None if f is None else f.contents()

    tokens = get("tokenizer.ggml.tokens")
    if not tokens:
        raise UsageError(f"--serve-gguf {path}: the GGUF holds no vocabulary (tokenizer.ggml.tokens)")
    return GGUFMeta(
        template=get("tokenizer.chat_template"),
        tokens=[str(t) for t in tokens],
        types=[int(t) for t in get("tokenizer.ggml.token_type") or [1] * len(tokens)],
        bos=get("tokenizer.ggml.bos_token_id"),
        eos=get("tokenizer.ggml.eos_token_id"),
        eot=get("tokenizer.ggml.eot_token_id"),
        eom=get("tokenizer.ggml.eom_token_id"),
        add_bos=bool(get("tokenizer.ggml.add_bos_token")),
    )


def render(template: str, messages: Sequence[dict[str, str]], bos: str, eos: str) -> str:
    """The template rendered as llama-cpp-python's Jinja2ChatFormatter renders it, generation prompt on."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise jinja2.TemplateError(message)

    env = ImmutableSandboxedEnvironment(loader=jinja2.BaseLoader(), trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = lambda x, indent=None: json.dumps(x, ensure_ascii=False, indent=indent)
    env.globals.update(raise_exception=raise_exception, strftime_now=lambda fmt: "")
    return env.from_string(template).render(
        messages=list(messages), bos_token=bos, eos_token=eos, add_generation_prompt=True
    )


@dataclass
class GGUFServing:
    path: Path
    meta: GGUFMeta
    template: str
    llama: Any = None  # llama_cpp.Llama (vocab only), when llama-cpp-python is installed
    hf: Any = None  # else transformers' tokenizer converted from the GGUF
    notes: list[str] = field(default_factory=list)
    engine: str = ""
    description: str = ""
    stops: set[int] = field(default_factory=set)
    special: frozenset[int] = frozenset()
    renderer: str = "jinja"  # or "builtin": llama.cpp's llama_chat_apply_template

    @classmethod
    def open(
        cls, path: Path, template: str | None = None, engine: str = "auto", renderer: str = "jinja"
    ) -> GGUFServing:
        if not path.is_file():
            raise UsageError(f"--serve-gguf {path}: no such file")
        meta = read_meta(path)
        chosen = template or meta.template
        if not chosen:
            raise UsageError(
                f"--serve-gguf {path}: the GGUF has no chat template (tokenizer.chat_template); pass "
                "--serve-template FILE, the template the server is started with (llama-server --chat-template-file)"
            )
        serving = cls(path, meta, chosen)
        serving.special = frozenset(i for i, t in enumerate(meta.types) if t in (CONTROL, USER_DEFINED))
        serving._load(engine)
        if renderer == "builtin":
            if serving.llama is None:
                raise UsageError(
                    "--gguf-template builtin is llama.cpp's own engine: it needs llama-cpp-python (make llama)"
                )
            serving.renderer = "builtin"
            serving.description = (
                f"GGUF {path.name}: llama.cpp's tokenizer and EOG set (llama-cpp-python); the template rendered by "
                "llama.cpp's built-in engine (llama_chat_apply_template, as llama-server without --jinja: it "
                "recognises a known template family and writes that family's format)"
            )
        return serving

    def _load(self, engine: str) -> None:
        try:
            if engine == "approximation":
                raise ImportError("approximation asked for")
            from llama_cpp import Llama
        except ImportError:
            if engine == "llama.cpp":
                raise UsageError("--gguf-engine llama.cpp needs llama-cpp-python: run `make llama`") from None
            from transformers import AutoTokenizer

            self.hf = AutoTokenizer.from_pretrained(self.path.parent, gguf_file=self.path.name)
            self.engine = "approximation"
            self.description = (
                f"GGUF {self.path.name}: an approximation of llama.cpp (llama-cpp-python {'not installed: make llama' if engine == 'auto' else 'not used'}): "
                "the template rendered by jinja2, the vocabulary by transformers' GGUF tokenizer conversion (so "
                "llama.cpp's own pre-tokenizer is not what splits the text), <bos> added per the GGUF's "
                "add_bos_token flag, EOG tokens by llama.cpp's rule"
            )
            self.stops = self._eog_by_rule()
            return
        with _quiet_stderr():  # llama.cpp's C logging ignores verbose=False for some lines
            self.llama = Llama(model_path=str(self.path), vocab_only=True, verbose=False)
        self.engine = "llama.cpp"
        self.description = (
            f"GGUF {self.path.name}: llama.cpp's tokenizer and EOG set (llama-cpp-python); the template rendered by "
            "jinja2 as llama-cpp-python renders it, a template-written leading BOS removed as llama-server does"
        )
        self.stops = self._eog_by_llama()

    def _eog_by_rule(self) -> set[int]:
        m = self.meta
        ids = {i for i, t in enumerate(m.tokens) if t in EOG_TEXTS}
        return ids | {i for i in (m.eos, m.eot, m.eom) if i is not None}

    def _eog_by_llama(self) -> set[int]:
        import llama_cpp

        vocab = llama_cpp.llama_model_get_vocab(self.llama._model.model)
        return {i for i in range(len(self.meta.tokens)) if llama_cpp.llama_vocab_is_eog(vocab, i)}

    def _text(self, token: int | None) -> str:
        return "" if token is None else self.meta.tokens[token]

    def _builtin(self, messages: Sequence[dict[str, str]]) -> str:
        """The prompt as llama.cpp's built-in template engine writes it (no jinja: a known family's format)."""
        import ctypes

        import llama_cpp

        chat = (llama_cpp.llama_chat_message * len(messages))()
        held = [(m["role"].encode("utf-8"), m["content"].encode("utf-8")) for m in messages]  # kept alive
        for i, (role, content) in enumerate(held):
            chat[i].role, chat[i].content = role, content
        size = 4096 + 2 * sum(len(c) for _, c in held)
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_chat_apply_template(self.template.encode("utf-8"), chat, len(held), True, buf, size)
        if n < 0:
            raise ValueError("llama.cpp's built-in engine does not recognise this template")
        if n > size:
            buf = ctypes.create_string_buffer(n)
            n = llama_cpp.llama_chat_apply_template(self.template.encode("utf-8"), chat, len(held), True, buf, n)
        return buf.raw[:n].decode("utf-8", "replace")

    def prompt(self, messages: Sequence[dict[str, str]]) -> list[int]:
        bos = self._text(self.meta.bos)
        try:
            if self.renderer == "builtin":
                text = self._builtin(messages)
            else:
                text = render(self.template, messages, bos, self._text(self.meta.eos))
        except Exception as exc:
            raise ServeError(f"the GGUF's template does not render this row ({type(exc).__name__}: {exc})") from exc
        if self.meta.add_bos and bos and text.startswith(bos):
            text = text[len(bos) :]  # llama-server: the vocabulary adds its own BOS next
        if self.llama is not None:
            return [int(i) for i in self.llama.tokenize(text.encode("utf-8"), add_bos=True, special=True)]
        ids = [int(i) for i in self.hf(text, add_special_tokens=False)["input_ids"]]
        return ([self.meta.bos] if self.meta.add_bos and self.meta.bos is not None else []) + ids

    def decode(self, ids: Sequence[int]) -> str:
        if self.llama is not None:
            return bytes(self.llama.detokenize(list(ids), special=True)).decode("utf-8", "replace")
        return str(self.hf.decode(list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False))

    def side(self, ids: Sequence[int]) -> Side:
        return Side(ids, self.decode, self.special, self.meta.bos)

    def stops_on(self, token_id: int, token_text: str, prompt: Sequence[int]) -> bool | None:
        return token_id in self.stops
