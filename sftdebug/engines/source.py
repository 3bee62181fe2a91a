"""Where a model comes from: a local Hugging Face folder, a GGUF file (converted once into a cached folder:
engines/gguf.py) or a hub id, checked before anything heavy loads.

Checkpoints are untrusted: only safetensors weights are loaded (never unpickled `.bin` files), and custom
code runs only behind an explicit `trust_remote_code=True` (the CLI's `--trust-remote-code`).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from sftdebug.core.errors import UsageError

_PATHLIKE_PREFIXES = ("/", "./", "../", "~")
log = logging.getLogger(__name__)


def _local_or_hub(name: str, what: str) -> Path:
    path = Path(name).expanduser()
    if path.exists():
        from sftdebug.engines.gguf import gguf_file

        gguf = gguf_file(path)
        return _from_gguf(gguf, name) if gguf is not None else path
    if name.startswith(_PATHLIKE_PREFIXES) or name.count("/") != 1:
        raise UsageError(f"{what} folder {name!r} does not exist (give a Hugging Face folder or a hub id)")
    return _from_hub(name)


def _from_gguf(path: Path, name: str) -> Path:
    from sftdebug.engines.gguf import cache_root, cached_folder, check_magic

    check_magic(path)  # before the note: a file that is no GGUF is one line, nothing said about converting
    log.info("%s: a GGUF checkpoint; converting it once (dequantised to float32) into %s", name, cache_root())
    return cached_folder(path, name)


def resolve_model(name: str) -> Path:
    """Return a local folder holding `name`'s config, tokenizer and safetensors weights (a PEFT adapter folder:
    merged once into its base, engines/adapter.py)."""
    from sftdebug.engines import adapter

    if adapter.is_adapter(name):
        found = adapter.adapter_of(name)
        if name not in adapter.used():  # said once: this engine runs the adapter merged, not applied
            why = adapter.vllm_merge_reason(found) or "this engine needs a plain checkpoint"
            log.info("%s: a PEFT adapter; %s: running it merged into its base %s", name, why, found.base_name)
        adapter.record(found, "merged")
        return adapter.merged_folder(found)
    return check_folder(_local_or_hub(name, "model"), name)


def resolve_tokenizer(name: str) -> Path:
    """A local folder holding `name`'s tokenizer (a model folder, or a tokenizer-only one): no weights needed. A
    PEFT adapter's is beside it, or else its base's."""
    from sftdebug.engines import adapter

    if adapter.is_adapter(name):
        return adapter.tokenizer_folder(adapter.adapter_of(name))
    folder = _local_or_hub(name, "tokenizer")
    if not folder.is_dir() or not any((folder / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")):
        raise UsageError(f"{name!r} holds no tokenizer (expected tokenizer.json or tokenizer_config.json)")
    return folder


def check_folder(folder: Path, name: str) -> Path:
    if not folder.is_dir():
        raise UsageError(f"model {name!r} is not a folder (expected a Hugging Face checkpoint folder)")
    if not (folder / "config.json").is_file():
        raise UsageError(f"model folder {name!r} has no config.json: not a Hugging Face checkpoint")
    if not any(folder.glob("*.safetensors")):
        if any(folder.glob("*.bin")) or any(folder.glob("*.pt")):
            raise UsageError(
                f"model folder {name!r} has only pickled weights (.bin/.pt); sftdebug loads safetensors only "
                "(convert with `model.save_pretrained(dir, safe_serialization=True)`)"
            )
        raise UsageError(f"model folder {name!r} has no *.safetensors weights")
    for weights in sorted(folder.glob("*.safetensors")):
        check_safetensors(weights, name)
    return folder


def check_safetensors(path: Path, name: str) -> None:
    """The file is whole: its header parses and every tensor it lists lies inside the file. A truncated download
    is found here, before any run folder exists, instead of when the model loads after other work."""
    size = path.stat().st_size
    try:
        header = safetensors_header(path)
        ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise UsageError(f"model {name!r} cannot be loaded: {path.name} is not a safetensors file ({exc})") from None
    with path.open("rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
    if 8 + n + max(ends, default=0) > size:
        raise UsageError(
            f"model {name!r} cannot be loaded: {path.name} is truncated ({size} bytes, its header lists "
            f"{8 + n + max(ends)}); download it again"
        )


def safetensors_header(path: Path) -> dict[str, Any]:
    """A safetensors file's JSON header (tensor names, dtypes, shapes, offsets); ValueError when it is not one."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        if size < 8 or n > size - 8:
            raise ValueError(f"header of {n} bytes in a file of {size}")
        header = json.loads(fh.read(n))
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    return header


def check_remote_code(folder: Path, name: str, trust_remote_code: bool) -> None:
    """A checkpoint whose config maps its classes to its own code (`auto_map`) for a model type transformers does
    not know cannot load without running that code: said before anything runs, unless --trust-remote-code."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"model {name!r}: config.json is not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise UsageError(f"model {name!r}: config.json is not a JSON object")
    if trust_remote_code or not config.get("auto_map"):
        return
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    if config.get("model_type") not in CONFIG_MAPPING_NAMES:
        raise UsageError(
            f"model {name!r} runs its own code to load (config.json auto_map, model_type "
            f"{config.get('model_type')!r}): pass --trust-remote-code if you trust it"
        )


def _from_hub(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.safetensors", "*.jinja", "tokenizer*", "*.model", "*.txt"]
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns, local_files_only=True))
    except Exception:
        pass  # not cached: try the network unless the user said offline
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise UsageError(f"model {repo_id!r} is not a local folder and not in the Hugging Face cache (offline)")
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns))
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(
            f"model {repo_id!r} is not a local folder, not in the Hugging Face cache, and could not be "
            f"downloaded ({reason:.120})"
        ) from exc


def local_folder(name: str) -> Path | None:
    """The local checkpoint folder of `name` (a folder, or a hub id already in the cache), else None (e.g. a
    model served by an endpoint): for steps that need the weights themselves."""
    try:
        return resolve_model(name)
    except UsageError:
        return None


def load_error(name: str, exc: Exception) -> str:
    """One line for a checkpoint that does not load: what transformers said, and the flag to pass when the
    checkpoint needs its own code."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    if "trust_remote_code" in str(exc):
        return f"model {name!r} runs its own code to load: pass --trust-remote-code if you trust it ({first})"
    return f"model {name!r} cannot be loaded ({type(exc).__name__}: {first})"
