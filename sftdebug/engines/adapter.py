"""PEFT adapter folders (LoRA: `adapter_config.json` + `adapter_model.safetensors`, what TRL with `peft_config`,
axolotl or unsloth write at every `checkpoint-*`) as models.

`adapter_of(path)` reads one and finds its base: `adapter_config.json`'s `base_model_name_or_path`, or the
run's `--base` when the recorded base cannot be found here (a hub id that is not cached), or `--adapter-base`
(`configure`, which every diagnostic's engine settings call before they check their models). Everything is checked from file headers before a model loads:
weights are safetensors (a `.bin`-only adapter is refused: never unpickled), every LoRA module exists in the
base with the shapes the adapter expects (an adapter of another architecture or hidden size is one line).

Two ways to run one: the transformers engine applies it on the loaded base (PEFT), so the base phase and every
checkpoint's SFT phase share one model (`engines/shared.py`); anything that needs a plain checkpoint folder
(vLLM where it cannot serve the adapter, weight statistics) gets it merged once (`merge_and_unload`) into
`$SFTDEBUG_CACHE/merged/<hash>/`, keyed by the adapter's files and its base's weights, as GGUF files are converted.
Runs that used an adapter say so in config.json (`adapters`: base, rank, alpha, targets, how it ran).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sftdebug.core.errors import UsageError
from sftdebug.core.io import made_once, write_json_atomic

CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"
MERGED_INFO = "merged.json"
_PREFIX = "base_model.model."
_USED: dict[str, dict[str, Any]] = {}  # adapter name given -> facts, for run configs
# --adapter-base (the base to use whatever the adapter records) and the run's --base (used when the recorded
# base is not here): set once per run by `configure`.
_BASES: dict[str, str | None] = {"adapter_base": None, "base_hint": None}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Adapter:
    """One PEFT adapter folder and the base it applies to (a local checkpoint folder)."""

    name: str  # as the user gave it
    folder: Path
    base: Path  # the base checkpoint folder it is applied on
    base_name: str  # the base as given (recorded, --base or --adapter-base)
    recorded_base: str | None  # adapter_config.json's base_model_name_or_path
    peft_type: str
    rank: int
    alpha: float
    targets: list[str]
    modules_to_save: list[str]
    token_rows: int | None  # rows of the embedding the adapter was trained with (resized for added tokens)
    has_tokenizer: bool
    notes: list[str] = field(default_factory=list)

    def facts(self) -> dict[str, Any]:
        out = asdict(self)
        return {**out, "folder": str(self.folder), "base": str(self.base)}


def configure(adapter_base: str | None = None, base_hint: str | None = None) -> None:
    _BASES.update(adapter_base=adapter_base, base_hint=base_hint)


def is_adapter(name: str | Path) -> bool:
    path = Path(name).expanduser()
    return path.is_dir() and (path / CONFIG).is_file() and not (path / "config.json").is_file()


def adapter_of(name: str) -> Adapter:
    """The adapter folder `name`, checked against its base (see module docstring and `configure`)."""
    folder = Path(name).expanduser()
    config = _read_config(folder, name)
    peft_type = str(config.get("peft_type") or "")
    if peft_type != "LORA":
        raise UsageError(f"adapter {name!r}: peft_type {peft_type or None!r} is not supported (LoRA adapters only)")
    header = _weights_header(folder, name)
    recorded = config.get("base_model_name_or_path") or None
    base_name, base, notes = _find_base(name, folder, recorded, _BASES["adapter_base"], _BASES["base_hint"])
    _check_against_base(name, header, base, base_name)
    token_rows = next(
        (int(v["shape"][0]) for k, v in header.items() if "embed_tokens" in k and k.endswith("base_layer.weight")),
        None,
    ) or next((int(v["shape"][0]) for k, v in header.items() if k.endswith("embed_tokens.weight")), None)
    targets = config.get("target_modules") or []
    adapter = Adapter(
        name=name,
        folder=folder,
        base=base,
        base_name=base_name,
        recorded_base=recorded,
        peft_type=peft_type,
        rank=int(config.get("r") or 0),
        alpha=float(config.get("lora_alpha") or 0),
        targets=sorted(targets) if isinstance(targets, list) else [str(targets)],
        modules_to_save=list(config.get("modules_to_save") or [])
        + [f"{k} (trainable token rows)" for k in (config.get("trainable_token_indices") or {})],
        token_rows=token_rows,
        has_tokenizer=any((folder / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")),
        notes=notes,
    )
    return adapter


def record(adapter: Adapter, how: str) -> None:
    """Say in the next run folder's config.json that `adapter` was used, and how (applied / merged); a base
    chosen against the adapter's record is said once, as a warning."""
    if adapter.name not in _USED:
        for note in adapter.notes:
            log.warning("adapter %s: %s", adapter.name, note)
    _USED[adapter.name] = {**adapter.facts(), "ran_as": how}


def used() -> dict[str, dict[str, Any]]:
    return dict(_USED)


def _read_config(folder: Path, name: str) -> dict[str, Any]:
    try:
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"adapter {name!r}: {CONFIG} is not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise UsageError(f"adapter {name!r}: {CONFIG} is not a JSON object")
    return config


def _weights_header(folder: Path, name: str) -> dict[str, Any]:
    from sftdebug.engines.source import check_safetensors, safetensors_header

    path = folder / WEIGHTS
    if not path.is_file():
        if any(folder.glob("adapter_model.bin")) or any(folder.glob("*.pt")):
            raise UsageError(
                f"adapter {name!r} has only pickled weights (adapter_model.bin); sftdebug loads safetensors only "
                "(save it with `model.save_pretrained(dir, safe_serialization=True)`)"
            )
        raise UsageError(f"adapter {name!r} has no {WEIGHTS}")
    check_safetensors(path, name)
    return safetensors_header(path)


def _find_base(
    name: str, folder: Path, recorded: str | None, chosen: str | None, hint: str | None
) -> tuple[str, Path, list[str]]:
    """(base as named, its local folder, notes): --adapter-base first, else the recorded base when it is here
    (a relative path: from the working folder, or else from the adapter's folder, so that a run folder that
    records "../base" can move), else the run's --base."""
    from sftdebug.engines.source import local_folder, resolve_model

    if chosen:
        folder = resolve_model(chosen)
        notes = [] if recorded in (None, chosen) else [f"recorded base {recorded!r}; --adapter-base {chosen!r} used"]
        return chosen, folder, notes
    found = local_folder(recorded) if recorded else None
    if found is None and recorded and not Path(recorded).is_absolute() and (folder / recorded).is_dir():
        recorded = str((folder / recorded).resolve())
        found = local_folder(recorded)
    hint_folder = local_folder(hint) if hint else None
    if found is not None:
        notes = []
        if hint_folder is not None and hint_folder.resolve() != found.resolve():
            notes = [f"recorded base {recorded!r} used; it differs from --base {hint!r}"]
        return str(recorded), found, notes
    if hint_folder is not None and hint is not None:
        said = f"recorded base {recorded!r} is not here" if recorded else "no recorded base"
        return hint, hint_folder, [f"{said}; --base {hint!r} used"]
    where = (
        f"its recorded base {recorded!r} is not a local folder or cached hub id" if recorded else "it records no base"
    )
    raise UsageError(f"adapter {name!r}: {where}; pass --adapter-base PATH (or --base with the same model)")


def _check_against_base(name: str, header: dict[str, Any], base: Path, base_name: str) -> None:
    """Every LoRA module exists in the base with matching in/out features (from safetensors headers only)."""
    from sftdebug.engines.source import safetensors_header

    shapes: dict[str, list[int]] = {}
    for weights in sorted(base.glob("*.safetensors")):
        shapes.update({k: v["shape"] for k, v in safetensors_header(weights).items() if k != "__metadata__"})
    for key, meta in header.items():
        if key == "__metadata__" or ".lora_" not in key:
            continue
        module, part = key.removeprefix(_PREFIX).split(".lora_", 1)
        weight = shapes.get(f"{module}.weight")
        if weight is None:
            raise UsageError(
                f"adapter {name!r} does not fit base {base_name!r}: the base has no module {module!r} "
                "(an adapter for another architecture?)"
            )
        out_f, in_f = weight[0], weight[-1]
        shape = meta["shape"]
        ok = shape[-1] == in_f if part.startswith("A") else shape[0] == out_f
        if not ok:
            raise UsageError(
                f"adapter {name!r} does not fit base {base_name!r}: {module} is {out_f}x{in_f} in the base, the "
                f"adapter's lora_{part} is {'x'.join(map(str, shape))} (another model size?)"
            )


def load_peft(adapter: Adapter, base_model: Any, adapter_name: str = "default") -> Any:
    """`adapter` applied on `base_model` (a PeftModel; further adapters go in with `add_to`). The base's embedding
    grows first when the adapter was trained with added tokens."""
    peft = require_peft()
    _resize_for(adapter, base_model)
    try:
        return peft.PeftModel.from_pretrained(base_model, str(adapter.folder), adapter_name=adapter_name).eval()
    except Exception as exc:  # a shape PEFT rejects that the header check did not foresee
        raise UsageError(f"adapter {adapter.name!r} cannot be applied on {adapter.base_name!r} ({exc})") from exc


def add_to(model: Any, adapter: Adapter, adapter_name: str) -> None:
    _resize_for(adapter, model.get_base_model())
    try:
        model.load_adapter(str(adapter.folder), adapter_name=adapter_name)
    except Exception as exc:
        raise UsageError(f"adapter {adapter.name!r} cannot be applied on {adapter.base_name!r} ({exc})") from exc


def _resize_for(adapter: Adapter, model: Any) -> None:
    rows = adapter.token_rows
    if rows and rows != model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(rows, mean_resizing=False)


def require_peft() -> Any:
    try:
        import peft
    except ImportError:
        raise UsageError("LoRA adapters need PEFT: pip install 'sftdebug[lora]' (or pip install peft)") from None
    return peft


VLLM_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the max_lora_rank values vLLM accepts


def vllm_merge_reason(adapter: Adapter) -> str | None:
    """Why the vLLM engine runs `adapter` merged into its base rather than as LoRA requests (`LoRARequest`), or
    None when it serves it as requests: LoRA weights only (no embedding rows of added tokens, no `modules_to_save`
    copies, which vLLM would ignore), a rank vLLM supports, and a GPU (the CPU build generates with LoRA, but its
    prompt log-probs crash offline and come back NaN from its server: scoring would be wrong)."""
    if adapter.modules_to_save or adapter.token_rows is not None:
        return "it trains embedding rows of added tokens or keeps modules_to_save copies, which vLLM LoRA ignores"
    if adapter.rank > VLLM_RANKS[-1]:
        return f"its rank {adapter.rank} is above vLLM's largest ({VLLM_RANKS[-1]})"
    if os.environ.get("SFTDEBUG_VLLM_LORA") != "1":
        import torch

        if not torch.cuda.is_available():
            return "the CPU build of vLLM cannot score prompts with LoRA enabled"
    return None


def tokenizer_folder(adapter: Adapter) -> Path:
    """SFT usually saves its tokenizer and chat template beside the adapter; else the base's is used."""
    return adapter.folder if adapter.has_tokenizer else adapter.base


def merged_folder(adapter: Adapter) -> Path:
    """A plain checkpoint folder with `adapter` merged into its base, made once into the cache."""
    digest = _digest(adapter)
    out = Path(os.environ.get("SFTDEBUG_CACHE") or Path.home() / ".cache" / "sftdebug") / "merged" / digest[:16]
    if not (out / MERGED_INFO).is_file():
        with made_once(out / MERGED_INFO) as needed:
            if needed:
                _merge(adapter, out, digest)
    return out


def _digest(adapter: Adapter) -> str:
    h = hashlib.sha256()
    for path in sorted(adapter.folder.iterdir()) + sorted(adapter.base.glob("*.safetensors")):
        if path.is_file() and path.suffix in (".json", ".safetensors", ".jinja"):
            h.update(path.name.encode())
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _merge(adapter: Adapter, out: Path, digest: str) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("%s: a LoRA adapter; merging it once into its base %s (%s)", adapter.name, adapter.base_name, out)
    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder(adapter))
    base = AutoModelForCausalLM.from_pretrained(adapter.base, use_safetensors=True)
    merged = load_peft(adapter, base).merge_and_unload()
    if tokenizer.eos_token_id is not None and adapter.has_tokenizer:
        # the SFT's own end of turn (e.g. an added <|end|>) is where its generation stops
        eos = merged.generation_config.eos_token_id
        ids = [eos] if isinstance(eos, int) else list(eos or [])
        merged.generation_config.eos_token_id = sorted({*ids, int(tokenizer.eos_token_id)})
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    info = {**adapter.facts(), "sha256": digest, "seconds": round(time.perf_counter() - t0, 1)}
    write_json_atomic(tmp / MERGED_INFO, info)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
