"""How a diagnostic reaches its models, as one typed value: the engine flags of every command, for the library.

    from sftdebug.engines.config import EngineConfig
    EngineConfig(engine="openai", endpoint="http://127.0.0.1:8000", concurrency=16)
    EngineConfig(engine="openai", endpoint=("http://10.0.0.1:8000", "http://10.0.0.2:8000"))   # two replicas

`options(side)` gives `load_engine`'s keyword options (checked: one-line UsageErrors), `check_models` checks that
every model can be loaded before a run folder is written. The CLI's engine flags map onto it one to one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sftdebug.core.errors import UsageError
from sftdebug.core.loop import RetryPolicy

ENGINE_KINDS = ("hf", "vllm", "openai")


@dataclass(frozen=True)
class EngineConfig:
    engine: str = "hf"  # hf = transformers, vllm = in-process vLLM, openai = an OpenAI-compatible endpoint
    # openai: the server URL; several URLs are replicas of one model (kept as a str when one, else a tuple)
    endpoint: str | Sequence[str] | None = None
    base_endpoint: str | Sequence[str] | None = None  # openai: the base model's server(s) (overrides endpoint)
    sft_endpoint: str | Sequence[str] | None = None  # openai: the SFT model's server(s) (overrides endpoint)
    api_key: str | None = None  # openai (default: $OPENAI_API_KEY); never written to run folders
    concurrency: int = 8  # openai: requests in flight per endpoint
    timeout: float = 120.0  # openai: seconds per request
    retry_rounds: int = RetryPolicy.rounds  # rounds in which a run retries its failed items itself
    tokenizer: str | None = None  # openai: a local tokenizer to render chat prompts and count tokens
    device: str | None = None  # hf: cuda, cuda:1, cpu… (default: cuda if available)
    dtype: str | None = None  # float32, bfloat16, float16 (default: bfloat16 on CUDA, float32 on CPU)
    batch_size: int = 16  # hf: prompts per forward pass
    threads: int | None = None  # hf on CPU: torch threads
    trust_remote_code: bool = False  # allow a checkpoint's own Python code to run
    adapter_base: str | None = None  # the base PEFT adapter folders apply on (default: their recorded base)
    device_map: str | None = None  # hf: "auto" spreads a model too large for one device over all (accelerate)
    # vllm: its engine arguments (EngineArgs) for models past one device; None leaves vLLM's own default
    tensor_parallel_size: int | None = None
    pipeline_parallel_size: int | None = None
    data_parallel_size: int | None = None
    gpu_memory_utilization: float | None = None
    quantization: str | None = None
    max_model_len: int | None = None  # vllm: context to start with (default 2,048, capped at the model's own)
    distributed_executor_backend: str | None = None  # vllm: mp, ray, uni, external_launcher
    vllm_args: dict[str, Any] = field(default_factory=dict)  # vllm: any other EngineArgs field (--vllm-arg K=V)

    def __post_init__(self) -> None:
        for name in ("endpoint", "base_endpoint", "sft_endpoint"):  # config.json keeps one URL as before: a str
            urls = _urls(getattr(self, name))
            object.__setattr__(self, name, (urls[0] if len(urls) == 1 else tuple(urls)) if urls else None)
        if self.engine not in ENGINE_KINDS:
            raise UsageError(f"unknown engine {self.engine!r}: choose one of {', '.join(ENGINE_KINDS)}")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.retry_rounds < 0:
            raise UsageError(f"--retry-rounds must be >= 0, got {self.retry_rounds}")
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"--threads must be >= 1, got {self.threads}")
        for name in ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "max_model_len"):
            if (value := getattr(self, name)) is not None and value < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
        if self.gpu_memory_utilization is not None and not 0 < self.gpu_memory_utilization <= 1:
            raise UsageError(f"--gpu-memory-utilization must be in (0, 1], got {self.gpu_memory_utilization}")
        if self.engine != "vllm" and (given := self.vllm_engine_args() or self.max_model_len):
            raise UsageError(f"vLLM engine arguments ({_flags(given)}) need --engine vllm")
        if self.device_map and self.engine != "hf":
            raise UsageError("--device-map needs --engine hf (vLLM spreads a model with --tensor-parallel-size)")

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(rounds=self.retry_rounds)

    def options(self, side: str | None = None) -> dict[str, Any]:
        """Keyword options for `load_engine(self.engine, ...)`; `side` ("base"/"sft") picks a per-model endpoint."""
        if self.engine == "openai":
            from sftdebug.engines.openai import check_endpoint

            urls = _urls((getattr(self, f"{side}_endpoint") if side else None) or self.endpoint)
            endpoints = [check_endpoint(url) for url in urls] or [check_endpoint(None)]  # (None: says what to give)
            if self.concurrency < 1 or self.timeout <= 0:
                raise UsageError("--concurrency must be >= 1 and --timeout > 0")
            return {
                "endpoint": endpoints[0] if len(endpoints) == 1 else endpoints,
                "api_key": self.api_key or os.environ.get("OPENAI_API_KEY"),
                "concurrency": self.concurrency,
                "timeout": self.timeout,
                "tokenizer": self.tokenizer,
                "trust_remote_code": self.trust_remote_code,
            }
        opts: dict[str, Any] = {"dtype": self.dtype, "trust_remote_code": self.trust_remote_code}
        if self.engine == "hf":
            opts.update(device=self.device, batch_size=self.batch_size, threads=self.threads)
            if self.device_map:
                opts["device_map"] = self.device_map
        else:
            opts.update(max_model_len=self.max_model_len, engine_args=self.vllm_engine_args())
        return opts

    def vllm_engine_args(self) -> dict[str, Any]:
        """The vLLM engine arguments given (the named flags and every --vllm-arg), checked against vLLM's
        EngineArgs: an unknown key is refused in one line with vLLM's own message."""
        named = ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "gpu_memory_utilization",
                 "quantization", "distributed_executor_backend")  # fmt: skip
        given = {k: getattr(self, k) for k in named if getattr(self, k) is not None} | dict(self.vllm_args)
        if given and self.engine == "vllm":
            from sftdebug.engines.vllm import check_engine_args

            check_engine_args(given)
        return given

    def check_models(self, *names: str, side: str | None = None, base: str | None = None) -> None:
        """Before anything is written: every model of a local engine (hf, vllm) resolves to a checkpoint folder
        whose files are whole (config.json and safetensors weights, or a GGUF file, converted now into the cache,
        so that the run's config.json can say so) and that needs no code of its own unless trust_remote_code; a
        PEFT adapter folder fits its base (`base`: the run's --base, used when the adapter's recorded base is not
        here; vLLM gets it merged now); an endpoint answers and serves every model (`side` picks base_endpoint /
        sft_endpoint)."""
        from sftdebug.engines import adapter

        adapter.configure(self.adapter_base, base)
        if self.engine == "openai":
            from sftdebug.engines.openai import OpenAIEngine

            opts = self.options(side)
            for name in names:  # every endpoint's /v1/models; a short timeout: this is a check, not a request
                engine = OpenAIEngine(
                    name,
                    endpoint=opts["endpoint"],
                    api_key=opts["api_key"],
                    timeout=min(opts["timeout"], 30),
                    check=False,
                )
                engine.check_model(every=True)
            return
        from sftdebug.engines.source import check_remote_code, resolve_model

        for name in names:
            found = adapter.adapter_of(name) if adapter.is_adapter(name) else None
            # an adapter the engine applies on its base (PEFT, vLLM LoRA requests) is checked, not merged
            if found and (self.engine == "hf" or adapter.vllm_merge_reason(found) is None):
                adapter.record(found, "applied")
                check_remote_code(found.base, name, self.trust_remote_code)
            else:
                check_remote_code(resolve_model(name), name, self.trust_remote_code)

    def load(self, model: str, side: str | None = None) -> Any:
        """The engine for `model` (sftdebug.engines.Engine)."""
        from sftdebug.engines import load_engine

        return load_engine(self.engine, model, **self.options(side))


def quiet_libraries() -> None:
    """transformers' own progress bars and advice would interleave with ours."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def _urls(value: str | Sequence[str] | None) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def _flags(given: Any) -> str:
    keys = given if isinstance(given, dict) else {"max_model_len": given}
    return ", ".join(f"--{k.replace('_', '-')}" for k in keys)
