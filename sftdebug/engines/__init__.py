"""Engines behind one interface, loaded lazily by name so that `import sftdebug` stays light.

from sftdebug.engines import load_engine
engine = load_engine("hf", "reports/lab/test/base")
"""

from __future__ import annotations

import importlib
from typing import Any

from sftdebug.core.errors import UsageError
from sftdebug.engines.base import (
    Completion,
    Continued,
    Engine,
    EngineInfo,
    GenerationRequest,
    Message,
    Prompt,
    SamplingParams,
    Score,
    ScoreRequest,
    ScoringUnsupported,
    Timing,
)

# "module:Class" strings: the heavy module (torch, vllm, …) is imported only when that engine is asked for.
ENGINES: dict[str, str] = {
    "hf": "sftdebug.engines.hf:HFEngine",
    "vllm": "sftdebug.engines.vllm:VLLMEngine",
    "openai": "sftdebug.engines.openai:OpenAIEngine",
}


def load_engine(kind: str, model: str, **options: Any) -> Engine:
    """Build the engine `kind` for `model` (a local folder, a hub id, or a served model name)."""
    if kind not in ENGINES:
        raise UsageError(f"unknown engine {kind!r}: choose one of {', '.join(sorted(ENGINES))}")
    module_name, cls_name = ENGINES[kind].split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    engine: Engine = cls(model, **options)
    return engine


__all__ = [
    "ENGINES",
    "Completion",
    "Continued",
    "Engine",
    "EngineInfo",
    "GenerationRequest",
    "Message",
    "Prompt",
    "SamplingParams",
    "Score",
    "ScoreRequest",
    "ScoringUnsupported",
    "Timing",
    "load_engine",
]
