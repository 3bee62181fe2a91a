"""The transformers engine: batched greedy/sampled generation and continuation scoring on CPU or CUDA.

Generation is our own KV-cached decode loop rather than `model.generate`, so that every step can be
timed (TTFT and per-token arrival, device synchronised), stop strings and extra stop tokens are exact, and
sampling is reproducible per request whatever the batch it lands in (one seeded generator per sample).

    engine = HFEngine("reports/lab/test/base")
    engine.generate([GenerationRequest("Pul Gafuley lives in", SamplingParams(max_new_tokens=8))])
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import torch

from sftdebug.core.chat import stop_ids
from sftdebug.core.errors import UsageError
from sftdebug.engines.base import Completion, EngineInfo, GenerationRequest, SamplingParams, Score, ScoreRequest, Timing
from sftdebug.engines.local import LocalEngine
from sftdebug.engines.source import load_error, resolve_model

ADAPTER = "sft"  # the PEFT adapter name of an adapter folder given as the model
MERGED = "_sftdebug_merged"  # attribute of a PEFT model: the adapter merged into its weights now
SCORE_BATCH_FACTOR = 4
SCORE_LOGITS_BYTES = 1 << 30  # float32 logits one scoring batch may hold
_ScoreItem = tuple[int, list[int], list[int]]  # (request index, prompt ids, continuation ids)


@cache
def default_threads() -> int:
    """Torch threads on CPU when `--threads` is not given: SFTDEBUG_THREADS when set (the tests' workers: one each),
    else every core this process may use that other processes are not busy with right now, at least one. A thread
    that has to wait for a busy core holds the others back at every step: on a busy 2-core machine two threads ran
    7× slower than one; on a quiet one two ran 1.5× faster than one. Decided once per process."""
    if os.environ.get("SFTDEBUG_THREADS", "").isdigit() and int(os.environ["SFTDEBUG_THREADS"]) > 0:
        return int(os.environ["SFTDEBUG_THREADS"])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, round((os.cpu_count() or cores) - _busy_cores())))


def _busy_cores(window: float = 0.3) -> float:
    """Cores other processes keep busy now: the machine's busy time in /proc/stat over a short window, less this
    process's own. Not the load average: it lags a minute, so a command run right after another would see the
    first one's load. Without /proc, the load average all the same."""

    def busy() -> tuple[int, float, float]:
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]  # user .. steal (guest time is in user already)
        return sum(ticks) - ticks[3] - ticks[4], time.process_time(), time.monotonic()  # less idle and iowait

    try:
        b0, own0, t0 = busy()
        time.sleep(window)
        b1, own1, t1 = busy()
    except (OSError, ValueError, IndexError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    return max(0.0, ((b1 - b0) / hz - (own1 - own0)) / (t1 - t0))


def pick_device_dtype(device: str | None, dtype: str | None) -> tuple[torch.device, torch.dtype]:
    """CUDA + bf16 where available, else CPU + float32; either can be overridden."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dtype is None:
        bf16_ok = dev.type == "cuda" and torch.cuda.is_bf16_supported()
        return dev, torch.bfloat16 if bf16_ok else torch.float32
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype not in dtypes:
        raise UsageError(f"unknown dtype {dtype!r}: choose one of {', '.join(dtypes)}")
    return dev, dtypes[dtype]


DROP_AT = 0.75  # drop finished rows from a decode batch once at most this share of it is still generating


@dataclass
class _Row:
    """One sample being generated: its prompt ids, parameters and progress."""

    index: tuple[int, int]  # (request index, sample index)
    prompt_ids: list[int]
    params: SamplingParams
    generator: torch.Generator | None
    out: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    finish: str | None = None
    stop_reason: str | None = None
    text: str | None = None


class HFEngine(LocalEngine):
    """Engine over a transformers causal LM (see module docstring)."""

    adapter: str | None  # the active PEFT adapter (None: none, or all disabled in a base view)
    base_vocab: int | None  # rows of the base's own embedding (a PEFT model's may be resized for added tokens)

    def __init__(
        self,
        model: str,
        *,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int = 16,
        trust_remote_code: bool = False,
        threads: int | None = None,
        device_map: str | None = None,
    ) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from sftdebug.engines import adapter as adapters

        # A PEFT adapter folder is applied on its base (not merged): see engines/adapter.py.
        lora = adapters.adapter_of(model) if adapters.is_adapter(model) else None
        folder = lora.base if lora else resolve_model(model)
        dev, torch_dtype = pick_device_dtype(device, dtype)
        if dev.type == "cpu":
            torch.set_num_threads(threads or default_threads())
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                adapters.tokenizer_folder(lora) if lora else folder, trust_remote_code=trust_remote_code
            )
            placed = {"device_map": device_map} if device_map else {}  # accelerate spreads it over the devices
            model_obj: Any = AutoModelForCausalLM.from_pretrained(
                folder, dtype=torch_dtype, use_safetensors=True, trust_remote_code=trust_remote_code, **placed
            )
        except Exception as exc:  # a truncated safetensors file, custom code, an unknown architecture...
            raise UsageError(load_error(model, exc)) from exc
        self.base_vocab = int(model_obj.get_input_embeddings().weight.shape[0])
        if lora:
            model_obj = adapters.load_peft(lora, model_obj, ADAPTER)
            adapters.record(lora, "applied")
        self.adapter = ADAPTER if lora else None
        if device_map:  # inputs go where the embedding is; accelerate's hooks move activations between devices
            dev, self._placed = model_obj.get_input_embeddings().weight.device, True
        self._setup(model, model_obj, tokenizer, dev, batch_size, str(lora.folder if lora else folder))

    @classmethod
    def from_loaded(
        cls,
        name: str,
        model: Any,
        tokenizer: Any,
        batch_size: int = 16,
        *,
        base: bool = False,
        base_vocab: int | None = None,
    ) -> HFEngine:
        """An engine over a model already in memory, used as it is: a training run's model on its own device
        with its active adapter unmerged (no weight is touched, nothing is freed on close), or with `base` a PEFT
        model's base (adapters disabled, logits cut to `base_vocab` rows). Tests drive the decode loop with a
        mock model."""
        engine = cls.__new__(cls)
        engine.adapter = None if base else getattr(model, "active_adapter", None)
        engine.base_vocab, engine._owner, engine._live = base_vocab, False, True
        params = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
        device = params.device if params is not None else torch.device("cpu")
        engine._setup(name, model, tokenizer, device, batch_size, None)
        return engine

    def view(self, name: str, tokenizer: Any, adapter: str | None, folder: str | None = None) -> HFEngine:
        """Another engine over this engine's (PEFT) model: with adapter `adapter` active, or with every adapter
        disabled (None: the base model itself, its vocabulary cut back to the base's). Closing a view frees
        nothing: the model belongs to this engine (engines/shared.py runs a base and its adapters on one load)."""
        engine = type(self).__new__(type(self))
        engine.adapter, engine.base_vocab, engine._owner, engine._live = adapter, self.base_vocab, False, False
        engine._setup(name, self.model, tokenizer, self.device, self.batch_size, folder)
        return engine

    def _setup(self, name: str, model: Any, tokenizer: Any, device: Any, batch_size: int, folder: str | None) -> None:
        self.name, self.tokenizer, self.batch_size, self.device = name, tokenizer, batch_size, device
        self._owner, self._live = getattr(self, "_owner", True), getattr(self, "_live", False)
        self._peft = hasattr(model, "disable_adapter") and hasattr(model, "set_adapter")
        # The base through a PEFT model: logits over the base's own vocabulary only (an adapter's added tokens
        # exist in the resized embedding but not in the base), so scores and argmax equal the plain base's.
        self.vocab_limit = self.base_vocab if self._peft and self.adapter is None else None
        self.model = (model if getattr(self, "_placed", False) else model.to(device)).eval()
        self.dtype = next(self.model.parameters()).dtype
        self.eos_ids = stop_ids(self.tokenizer, getattr(self.model.generation_config, "eos_token_id", None))
        self.pad_id = self._pad_id()
        self.info = EngineInfo(
            max_positions=int(getattr(self.model.config, "max_position_embeddings", 0) or 0) or None,
            n_params=sum(p.numel() for p in self.model.parameters()),
            bytes_per_param=torch.tensor([], dtype=self.dtype).element_size(),
            device=torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "cpu",
            folder=folder,
            can_continue=True,
        )

    @contextmanager
    def _adapter_state(self) -> Iterator[None]:
        """The PEFT model as this engine needs it. The active adapter is merged into the weights (PEFT's
        merge_adapter: the same sum merge_and_unload writes, so outputs equal a merged checkpoint's, and the
        adapter costs nothing per token) and unmerged when another adapter or the base is asked for."""
        if not self._peft or (self._live and self.adapter is not None):  # a training model: never merged
            yield
            return
        merged = getattr(self.model, MERGED, None)  # shared by every view of this model
        if merged is not None and merged != self.adapter:
            self.unmerge()
            merged = None
        if self.adapter is None:
            with self.model.disable_adapter():
                yield
            return
        if merged is None:
            self.model.set_adapter(self.adapter)
            self.model.merge_adapter([self.adapter])
            setattr(self.model, MERGED, self.adapter)
        yield

    def unmerge(self) -> None:
        """The PEFT model's weights back to the base's (before another adapter loads, or the base runs)."""
        if getattr(self.model, MERGED, None) is not None:
            self.model.unmerge_adapter()
            setattr(self.model, MERGED, None)

    def _forward(self, **inputs: Any) -> Any:
        out = self.model(**inputs)
        if self.vocab_limit is not None:
            out.logits = out.logits[..., : self.vocab_limit]
        return out

    # --- prompts -------------------------------------------------------------------------------------

    def _pad_id(self) -> int:
        for candidate in (self.tokenizer.pad_token_id, self.tokenizer.eos_token_id):
            if candidate is not None:
                return int(candidate)
        return 0  # any id works: padded positions are masked and never read

    # --- generation ----------------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        rows = []
        for i, req in enumerate(requests):
            ids = self.encode(req.prompt)
            self.check_length(len(ids) + req.params.max_new_tokens, i)
            for j in range(req.params.n):
                gen = None
                if req.params.temperature > 0:
                    gen = torch.Generator(device=self.device)
                    seed = req.params.seed if req.params.seed is not None else int(torch.seed() % 2**31)
                    gen.manual_seed(seed + j)
                rows.append(_Row((i, j), ids, req.params, gen))
        # Similar lengths together: less padding, and left padding keeps the last position aligned.
        rows.sort(key=lambda r: len(r.prompt_ids))
        results: list[list[Completion | None]] = [[None] * r.params.n for r in requests]
        with self._adapter_state():
            for start in range(0, len(rows), self.batch_size):
                batch = rows[start : start + self.batch_size]
                for row, completion in zip(batch, self._generate_batch(batch), strict=True):
                    results[row.index[0]][row.index[1]] = completion
        return [[c for c in per_req if c is not None] for per_req in results]

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @torch.inference_mode()
    def _generate_batch(self, rows: list[_Row]) -> list[Completion]:
        width = max(len(r.prompt_ids) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        attn = torch.zeros((len(rows), width), dtype=torch.long)
        for b, r in enumerate(rows):
            ids[b, width - len(r.prompt_ids) :] = torch.tensor(r.prompt_ids)
            attn[b, width - len(r.prompt_ids) :] = 1
        ids, attn = ids.to(self.device), attn.to(self.device)
        pos = (attn.cumsum(-1) - 1).clamp(min=0)
        max_steps = max(r.params.max_new_tokens for r in rows)
        self._sync()
        t0 = time.perf_counter()
        out = self._forward(input_ids=ids, attention_mask=attn, position_ids=pos, use_cache=True, logits_to_keep=1)
        live = list(rows)  # the rows still generating, in the order of the batch's tensors
        for _step in range(max_steps):
            logits = out.logits[:, -1, :].float()
            next_ids = [self._choose(logits[b], r) for b, r in enumerate(live)]
            self._sync()
            now = time.perf_counter() - t0
            for r, tok in zip(live, next_ids, strict=True):
                if r.finish is None:
                    r.out.append(tok)
                    r.times.append(now)
                    self._check_stop(r)
            if all(r.finish is not None for r in live):
                break
            cache = out.past_key_values
            keep = [b for b, r in enumerate(live) if r.finish is None]
            if len(keep) <= DROP_AT * len(live) and hasattr(cache, "batch_select_indices"):
                # Finished rows leave the batch (their KV rows too), so a batch does not run at full width for
                # its longest answer; done only when a quarter or more finished, to pay for the copy.
                index = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(index)
                attn, pos = attn[index], pos[index]
                live, next_ids = [live[b] for b in keep], [next_ids[b] for b in keep]
            feed = torch.tensor([[t if r.finish is None else self.pad_id] for t, r in zip(next_ids, live, strict=True)])
            attn = torch.cat([attn, torch.ones((len(live), 1), dtype=attn.dtype, device=self.device)], dim=1)
            pos = pos[:, -1:] + 1
            out = self._forward(
                input_ids=feed.to(self.device),
                attention_mask=attn,
                position_ids=pos,
                past_key_values=cache,
                use_cache=True,
            )
        return [self._completion(r) for r in rows]

    def _choose(self, logits: torch.Tensor, row: _Row) -> int:
        p = row.params
        if p.temperature == 0:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits / p.temperature, dim=-1)
        if p.top_p < 1:
            sorted_p, order = torch.sort(probs, descending=True)
            keep = sorted_p.cumsum(-1) - sorted_p < p.top_p  # always keeps the most likely token
            probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
        return int(torch.multinomial(probs, 1, generator=row.generator))

    def _check_stop(self, r: _Row) -> None:
        tok = r.out[-1]
        if not r.params.ignore_eos and (tok in self.eos_ids or tok in r.params.stop_token_ids):
            r.finish, r.stop_reason = "stop", "eos" if tok in self.eos_ids else str(tok)
            r.text = self._decode(r.out[:-1])
            return
        if r.params.stop:
            text = self._decode(r.out)
            hits = [(text.find(s), s) for s in r.params.stop if s in text]
            if hits:
                cut, s = min(hits)
                r.finish, r.stop_reason, r.text = "stop", s, text[:cut]
                return
        if len(r.out) >= r.params.max_new_tokens:
            r.finish, r.text = "length", self._decode(r.out)

    def _decode(self, ids: list[int]) -> str:
        # Special tokens stay visible: a model that emits "<|user|>" mid-answer is itself a finding.
        return str(self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False))

    def _completion(self, r: _Row) -> Completion:
        assert r.finish is not None and r.text is not None, "row finished without a reason"
        timing = Timing(ttft_s=r.times[0], e2e_s=r.times[-1], token_times_s=tuple(r.times))
        return Completion(
            text=r.text,
            token_ids=tuple(r.out),
            prompt_tokens=len(r.prompt_ids),
            finish_reason="stop" if r.finish == "stop" else "length",
            stop_reason=r.stop_reason,
            timing=timing,
        )

    # --- scoring -------------------------------------------------------------------------------------

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        items = []
        for i, req in enumerate(requests):
            prompt_ids = self.encode(req.prompt)
            cont_ids = self.encode_continuation(req.continuation)
            if not cont_ids or not prompt_ids:
                raise UsageError(f"score request {i}: the prompt and the continuation must not be empty")
            self.check_length(len(prompt_ids) + len(cont_ids), i)
            items.append((i, prompt_ids, cont_ids))
        scores: list[Score | None] = [None] * len(requests)
        groups: dict[tuple[int, ...], list[_ScoreItem]] = {}
        for it in items:
            groups.setdefault(tuple(it[1]), []).append(it)
        # Candidates of one prompt (a probe's answers) share one prompt forward pass; lone prompts go in batches.
        lone = [g[0] for g in groups.values() if len(g) == 1]
        lone.sort(key=lambda it: len(it[1]) + len(it[2]))
        with self._adapter_state():
            for group in (g for g in groups.values() if len(g) > 1):
                for part in self._score_batches(group):
                    for (i, _, _), s in zip(part, self._score_shared(part), strict=True):
                        scores[i] = s
            for batch in self._score_batches(lone):
                for (i, _, _), s in zip(batch, self._score_batch(batch), strict=True):
                    scores[i] = s
        return [s for s in scores if s is not None]

    def _score_batches(self, items: list[_ScoreItem]) -> list[list[_ScoreItem]]:
        """Length-sorted items in batches: up to `batch_size` × SCORE_BATCH_FACTOR (one forward pass and no decode
        loop: far larger than generation's), and no more float32 logits than SCORE_LOGITS_BYTES (a 262k-word
        vocabulary makes a batch of long answers tens of GB otherwise)."""
        vocab = int(self.model.get_output_embeddings().weight.shape[0])
        size = self.batch_size * SCORE_BATCH_FACTOR
        batches: list[list[_ScoreItem]] = []
        batch: list[_ScoreItem] = []
        for it in items:
            width = len(it[1]) + len(it[2])
            if batch and (len(batch) == size or (len(batch) + 1) * width * vocab * 4 > SCORE_LOGITS_BYTES):
                batches.append(batch)
                batch = []
            batch.append(it)
        return batches + ([batch] if batch else [])

    @torch.inference_mode()
    def _score_batch(self, items: list[tuple[int, list[int], list[int]]]) -> list[Score]:
        seqs = [p + c for _, p, c in items]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        attn = torch.zeros((len(seqs), width), dtype=torch.long)
        for b, s in enumerate(seqs):  # right padding: positions stay 0..n-1 without position ids
            ids[b, : len(s)] = torch.tensor(s)
            attn[b, : len(s)] = 1
        # logits only from the first position that predicts a continuation token on
        first = min(len(p) for _, p, _ in items) - 1
        keep = torch.arange(first, width, device=self.device)
        logits = self._forward(
            input_ids=ids.to(self.device), attention_mask=attn.to(self.device), logits_to_keep=keep
        ).logits
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        scores = []
        for b, (_, p, c) in enumerate(items):
            positions = torch.arange(len(p) - 1 - first, len(p) + len(c) - 1 - first, device=self.device)
            targets = torch.tensor(c, device=self.device)
            token_lp = logprobs[b, positions, targets].tolist()
            tokens = tuple(self.tokenizer.convert_ids_to_tokens(c))
            scores.append(Score(logprob=float(sum(token_lp)), token_logprobs=tuple(token_lp), tokens=tokens))
        return scores

    @torch.inference_mode()
    def _score_shared(self, items: list[_ScoreItem]) -> list[Score]:
        """Continuations of one prompt: the prompt is run once, its KV cache copied to each continuation, which
        then runs alone (right-padded: a continuation's own positions never see the padding after it)."""
        prompt = items[0][1]
        out = self._forward(input_ids=torch.tensor([prompt], device=self.device), use_cache=True, logits_to_keep=1)
        first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)  # predicts every continuation's first token
        width = max(len(c) for _, _, c in items)
        rest_lp: torch.Tensor | None = None  # log-probs after each continuation's first tokens (when it has more)
        if width > 1:
            cache = out.past_key_values
            cache.batch_repeat_interleave(len(items))
            ids = torch.full((len(items), width - 1), self.pad_id, dtype=torch.long)
            for b, (_, _, c) in enumerate(items):
                ids[b, : len(c) - 1] = torch.tensor(c[:-1])
            attn = torch.ones((len(items), len(prompt) + width - 1), dtype=torch.long)
            pos = torch.arange(len(prompt), len(prompt) + width - 1).expand(len(items), -1)
            rest = self._forward(
                input_ids=ids.to(self.device),
                attention_mask=attn.to(self.device),
                position_ids=pos.to(self.device),
                past_key_values=cache,
                use_cache=True,
            ).logits
            rest_lp = torch.log_softmax(rest.float(), dim=-1)
        scores = []
        for b, (_, _, c) in enumerate(items):
            lps = [float(first[c[0]])]
            if rest_lp is not None and len(c) > 1:
                lps += rest_lp[b, torch.arange(len(c) - 1), torch.tensor(c[1:])].tolist()
            tokens = tuple(self.tokenizer.convert_ids_to_tokens(c))
            scores.append(Score(logprob=float(sum(lps)), token_logprobs=tuple(lps), tokens=tokens))
        return scores

    def close(self) -> None:
        if not self._owner:
            return
        del self.model
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
