"""Did the new entity tokens' embedding rows learn? An HF-only step: it reads the checkpoints' weights with
transformers whatever `--engine` ran the evaluation (an engine exposes completions, not weights), one model
in memory at a time.

    embedding_movement_of("out/e30-lr0.001/model", entities, base_folder="lab/base")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _load(folder: str) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model: Any = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True)
    return model, AutoTokenizer.from_pretrained(folder)


def _matrices(model: Any) -> tuple[Any, Any | None]:
    """The input and output embedding weights (output None when the model has no separate head)."""
    outp = model.get_output_embeddings()
    return model.get_input_embeddings().weight, (outp.weight if outp is not None else None)


def mean_rows(model: Any) -> tuple[Any, Any | None]:
    """Mean input and output embedding rows: where sftdebug's trainer starts every new token."""
    inp, out = _matrices(model)
    return inp.detach().float().mean(0), (out.detach().float().mean(0) if out is not None else None)


def embedding_movement_of(model_folder: str, entities: Sequence[str], base_folder: str | None) -> dict[str, Any]:
    """`embedding_movement` for checkpoints on disk (the base loaded first, reduced to its mean rows, freed)."""
    base_means = mean_rows(_load(base_folder)[0]) if base_folder is not None else None
    model, tokenizer = _load(model_folder)
    return embedding_movement(model, tokenizer, entities, base_means)


def embedding_movement(
    model: Any, tokenizer: Any, entities: Sequence[str], base_means: tuple[Any, Any | None] | None = None
) -> dict[str, Any]:
    """Relative distance of each entity row from its initialisation (the base's mean rows when given,
    otherwise the mean of the entity rows themselves), for input and output embeddings. Frozen or
    never-updated rows stay put."""
    import torch

    ids = [int(tokenizer.convert_tokens_to_ids(e)) for e in entities]
    inp, outw = _matrices(model)
    out: dict[str, Any] = {"tied": outw is not None and outw.data_ptr() == inp.data_ptr()}
    for i, (name, weight) in enumerate((("input", inp), ("output", outw))):
        if weight is None:
            continue
        rows = weight.detach().float()[ids]
        start = base_means[i] if base_means is not None else None
        init = (start if start is not None else rows.mean(0)).unsqueeze(0)
        rel = (torch.linalg.norm(rows - init, dim=1) / torch.linalg.norm(init).clamp_min(1e-8)).tolist()
        out[f"{name}_rel_change_mean"] = sum(rel) / len(rel)
        out[f"{name}_moved_share"] = sum(r > 1e-3 for r in rel) / len(rel)
    out["moved"] = bool(out.get("input_moved_share", 0) > 0.9 and out.get("output_moved_share", 1) > 0.9)
    return out
