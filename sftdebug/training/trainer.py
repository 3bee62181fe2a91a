"""A minimal, correct trainer: causal-LM pretraining on packed blocks, and SFT with loss masks.

SFT labels are built the way a correct trainer builds them: prompt tokens masked (-100), every assistant
answer trained (or only the last with `loss_on="last"`), and the end-of-turn/eos token that closes each
answer inside the loss — a model that never sees its eos trained cannot stop.

    examples = [sft_example(tokenizer, messages) for messages in rows]
    losses = train_sft(model, examples, TrainConfig(steps=400, lr=1e-3), pad_id=tokenizer.pad_token_id)
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from sftdebug.core.chat import DEFAULT_CHAT_TEMPLATE, END, ROLE_TOKENS
from sftdebug.core.io import write_json_atomic
from sftdebug.core.progress import Progress, no_progress
from sftdebug.sftdata.encode import IGNORE, encode_conversation

StepFn = Callable[[int, float], None]  # (step, loss) after every optimizer step; drives progress bars


@dataclass(frozen=True)
class TrainConfig:
    steps: int
    lr: float
    batch_size: int = 16
    warmup: float = 0.05  # share of steps with linear warm-up, then cosine decay to 10%
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    seed: int = 0


def _schedule(cfg: TrainConfig) -> Callable[[int], float]:
    warm = max(1, int(cfg.warmup * cfg.steps))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        progress = (step - warm) / max(1, cfg.steps - warm)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


@dataclass(frozen=True)
class LoraSpec:
    """A LoRA recipe (PEFT): rank, alpha and the modules it adapts. Tokens the SFT adds (role tokens, entity
    tokens) have no trained rows in the base: their embedding rows are trained too (PEFT's
    `trainable_token_indices`, which also covers a tied output head), everything else stays frozen."""

    rank: int = 16
    alpha: int = 32
    targets: str | tuple[str, ...] = "all-linear"


def with_lora(model: Any, spec: LoraSpec, new_token_ids: Sequence[int] = (), seed: int = 0) -> Any:
    """`model` wrapped for LoRA training (a PeftModel): only the adapter and `new_token_ids`' rows train. The
    adapter's initial A matrices are drawn from `seed`, not from whatever the process's generator holds, so that an
    adapter is a function of its recipe (a lab built in one go or model by model trains the same one)."""
    from peft import LoraConfig, get_peft_model

    targets = spec.targets if isinstance(spec.targets, str) else list(spec.targets)
    config = LoraConfig(
        r=spec.rank,
        lora_alpha=spec.alpha,
        target_modules=targets,
        lora_dropout=0.0,
        trainable_token_indices={"embed_tokens": list(new_token_ids)} if new_token_ids else None,
        task_type="CAUSAL_LM",
    )
    torch.manual_seed(seed)
    return get_peft_model(model, config)


def _optimise(
    model: Any,
    cfg: TrainConfig,
    batch_fn: Callable[[random.Random], dict[str, torch.Tensor]],
    on_step: StepFn | None,
    loss_fn: Callable[[Any, dict[str, torch.Tensor]], torch.Tensor] | None = None,
) -> list[float]:
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    params = [p for p in model.parameters() if p.requires_grad]  # frozen parameters get no optimizer state
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.95))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(cfg))
    model.train()
    losses = []
    for step in range(cfg.steps):
        batch = batch_fn(rng)
        loss = loss_fn(model, batch) if loss_fn else model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if on_step:
            on_step(step + 1, losses[-1])
    model.eval()
    return losses


def pack_blocks(token_ids: Sequence[int], block: int) -> torch.Tensor:
    """Cut one long token stream into equal blocks (the tail that does not fill a block is dropped)."""
    n = len(token_ids) // block
    if n == 0:
        raise ValueError(f"corpus of {len(token_ids)} tokens is shorter than one block of {block}")
    return torch.tensor(token_ids[: n * block], dtype=torch.long).view(n, block)


def train_lm(model: Any, blocks: torch.Tensor, cfg: TrainConfig, on_step: StepFn | None = None) -> list[float]:
    """Pretraining: next-token loss on every position of randomly drawn packed blocks."""

    def batch(rng: random.Random) -> dict[str, torch.Tensor]:
        idx = torch.tensor([rng.randrange(len(blocks)) for _ in range(cfg.batch_size)])
        x = blocks[idx]
        return {"input_ids": x, "labels": x}

    return _optimise(model, cfg, batch, on_step)


@dataclass(frozen=True)
class SFTExample:
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]  # IGNORE where no loss is taken

    @property
    def trained_tokens(self) -> int:
        return sum(1 for t in self.labels if t != IGNORE)


def sft_example(
    tokenizer: Any,
    messages: Sequence[dict[str, str]],
    loss_on: Literal["all", "last"] = "all",
    train_on_prompt: bool = False,
) -> SFTExample:
    """Token ids and labels for one conversation (see sftdata/encode.py). The template must make every
    generation prompt a token prefix of the full conversation (training and inference agree), or this raises
    ValueError."""
    enc = encode_conversation(tokenizer, messages, loss_on, train_on_prompt)
    if not enc.answers:
        raise ValueError("conversation has no assistant turn to train on")
    if enc.mismatch:
        raise ValueError(f"chat template: {enc.mismatch}")
    return SFTExample(tuple(enc.input_ids), tuple(enc.labels))


def answer_only_loss(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The SFT loss computed on the labelled positions only: the same value as the model's own loss, but the
    LM head (262k × 640 for Gemma 3, most of its parameters) runs on the few answer tokens, not every position."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model  # a PEFT model: the wrapped one
    body = getattr(inner, inner.base_model_prefix)
    hidden = body(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    labels = batch["labels"][:, 1:]
    mask = labels != IGNORE
    logits = inner.get_output_embeddings()(hidden[:, :-1][mask]).float()
    return torch.nn.functional.cross_entropy(logits, labels[mask])


def train_sft(
    model: Any,
    examples: Sequence[SFTExample],
    cfg: TrainConfig,
    pad_id: int,
    on_step: StepFn | None = None,
    answer_only: bool = False,
) -> list[float]:
    """SFT: loss only on labelled tokens; batches drawn at random, right-padded. `answer_only` computes the
    logits at labelled positions only (`answer_only_loss`): for real models with large vocabularies."""
    if not examples:
        raise ValueError("no SFT examples")

    def batch(rng: random.Random) -> dict[str, torch.Tensor]:
        rows = [examples[rng.randrange(len(examples))] for _ in range(cfg.batch_size)]
        width = max(len(r.input_ids) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
        attn = torch.zeros((len(rows), width), dtype=torch.long)
        for b, r in enumerate(rows):
            ids[b, : len(r.input_ids)] = torch.tensor(r.input_ids)
            labels[b, : len(r.labels)] = torch.tensor(r.labels)
            attn[b, : len(r.input_ids)] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": attn}

    return _optimise(model, cfg, batch, on_step, answer_only_loss if answer_only else None)


def fine_tune(
    model: Any,
    tokenizer: Any,
    conversations: Sequence[Sequence[dict[str, str]]],
    cfg: TrainConfig,
    out: Path,
    progress: Progress = no_progress,
    task: str = "sft",
    answer_only: bool = False,
    checkpoints: Sequence[int] = (),
    checkpoint_dir: Path | None = None,
) -> list[float]:
    """SFT on chat conversations (one example each, see `sft_example`), then the checkpoint saved to `out`
    (safetensors). Returns the loss of every step. At each step in `checkpoints` the model is also saved to
    `checkpoint_dir/checkpoint-STEP`, with a `trainer_state.json` as transformers' Trainer writes one."""
    examples = [sft_example(tokenizer, c) for c in conversations]
    losses: list[float] = []

    def on_step(step: int, loss: float) -> None:
        losses.append(loss)
        progress(task, step, cfg.steps, f"loss {loss:.3f}")
        if step in checkpoints and checkpoint_dir is not None:
            folder = checkpoint_dir / f"checkpoint-{step}"
            model.save_pretrained(folder, safe_serialization=True)
            tokenizer.save_pretrained(folder)
            history = [{"step": i + 1, "loss": round(x, 5)} for i, x in enumerate(losses)]
            write_json_atomic(folder / "trainer_state.json", {"global_step": step, "log_history": history})

    losses = train_sft(model, examples, cfg, int(tokenizer.pad_token_id), on_step, answer_only)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return losses


def tail_mean(losses: Sequence[float], n: int = 10) -> float:
    """The mean of the last `n` losses: a final loss that one noisy batch does not decide."""
    tail = losses[-n:]
    return sum(tail) / len(tail)


def add_tokens(model: Any, tokenizer: Any, tokens: Sequence[str]) -> list[int]:
    """Add special tokens and resize the embeddings; new rows start at the mean embedding (a neutral prior
    rather than random noise, so they do not dominate the first SFT steps). Returns the new ids."""
    vocab = tokenizer.get_vocab()
    tokenizer.add_tokens([t for t in tokens if t not in vocab], special_tokens=True)
    old = model.get_input_embeddings().weight.shape[0]
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    with torch.no_grad():
        emb = model.get_input_embeddings().weight
        emb[old:] = emb[:old].mean(0, keepdim=True)
        out = model.get_output_embeddings()
        if out is not None and out.weight.data_ptr() != emb.data_ptr():
            out.weight[old:] = out.weight[:old].mean(0, keepdim=True)
    return [int(tokenizer.convert_tokens_to_ids(t)) for t in tokens]


def load_for_sft(
    base: str | Path, extra_tokens: Sequence[str] = (), chat_template: str | None = None
) -> tuple[Any, Any]:
    """A base checkpoint (model, tokenizer) ready for sftdebug's SFT. A base without a chat template (a plain
    pretrained model, as in the lab) gets `chat_template`, or else sftdebug's role tokens and template, with `<|end|>` as its eos so that
    a model which learned to stop ends generation by itself; `extra_tokens` (e.g. the overfit entity tokens)
    are added as special tokens; pad falls back to eos."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sftdebug.engines.source import resolve_model

    folder = resolve_model(str(base))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True)
    if chat_template:  # the model family's own format (e.g. Gemma's), built from tokens it already has
        tokenizer.chat_template = chat_template
    if not getattr(tokenizer, "chat_template", None):
        add_tokens(model, tokenizer, ROLE_TOKENS)
        tokenizer.eos_token = END
        tokenizer.chat_template = DEFAULT_CHAT_TEMPLATE
        end_id = tokenizer.convert_tokens_to_ids(END)
        assert isinstance(end_id, int), "the end-of-turn token must be a single token"
        model.config.eos_token_id = end_id
        model.generation_config.eos_token_id = end_id
    if extra_tokens:
        add_tokens(model, tokenizer, extra_tokens)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
