"""`sftdebug generate` as one typed call: one model over a prompt file (or one prompt), every completion recorded.

    from sftdebug.generate import GenerateConfig, run
    result = run(GenerateConfig(model="reports/lab-test/sft-healthy", prompt="Where does Pul Gafuley live?", chat=True))
    result.summary, result.records()   # the summary; one completion per row

Every prompt is rendered before the run folder exists (a template or prompt error is one UsageError, nothing
half-written); a killed run continues with `resume=True`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sftdebug.core.runs import RunResult
from sftdebug.engines.config import EngineConfig

# the arguments a resumed run must share with the run it continues
IDENTITY = ["model", "prompts", "prompt", "max_new_tokens", "temperature", "n", "seed", "shard"]


@dataclass(frozen=True)
class GenerateConfig:
    model: str  # Hugging Face folder or hub id (or the served name)
    prompts: str | None = None  # JSONL with 'prompt' (raw text) or 'messages' (chat) per line
    prompt: str | None = None  # or one prompt
    chat: bool = False  # send `prompt` as a user message via the chat template
    max_new_tokens: int = 64
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    n: int = 1  # samples per prompt
    seed: int = 0
    stop: Sequence[str] = ()  # stop strings
    engine: EngineConfig = field(default_factory=EngineConfig)
    out: str | None = None  # run folder (default: reports/generate/<time>)
    resume: bool = False  # continue an interrupted run in `out`
    overwrite: bool = False  # replace an existing run in `out`
    shard: str | None = None  # "I/N": only the I-th of N parts of the prompts (`sftdebug merge` joins the N runs)


@dataclass(frozen=True)
class GenerateResult(RunResult[dict[str, Any]]):
    """A generate run's folder, summary.json and report.html."""


def run(cfg: GenerateConfig) -> GenerateResult:
    """Generate for every prompt; write the run folder, its summary and report."""
    from contextlib import closing

    from sftdebug.core.errors import UsageError
    from sftdebug.core.runs import RunFolder, default_out, recorded_args
    from sftdebug.core.shards import parse_shard
    from sftdebug.engines import SamplingParams
    from sftdebug.engines.config import quiet_libraries
    from sftdebug.generate.phases import run_generate
    from sftdebug.generate.prompts import PromptItem, read_prompts
    from sftdebug.report import terminal as console
    from sftdebug.report.build import build_report

    shard = parse_shard(cfg.shard)
    if (cfg.prompts is None) == (cfg.prompt is None):
        raise UsageError("give exactly one of --prompts FILE or --prompt TEXT")
    try:
        params = SamplingParams(
            max_new_tokens=cfg.max_new_tokens,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            n=cfg.n,
            seed=cfg.seed,
            stop=tuple(cfg.stop),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if cfg.prompts is not None:
        items = read_prompts(cfg.prompts)
    else:
        text = str(cfg.prompt)
        items = [PromptItem("0", [{"role": "user", "content": text}] if cfg.chat else text)]
    args = recorded_args(cfg, one_model=True)
    if shard is not None:
        args["shard"] = shard.record([it.id for it in items])
        items = shard.select(items, key=lambda it: it.id)
    out = cfg.out or default_out("generate")
    RunFolder.precheck(out, cfg.resume, cfg.overwrite)
    quiet_libraries()
    eng = cfg.engine
    eng.check_models(cfg.model)
    with closing(eng.load(cfg.model)) as engine:
        for it in items:  # pre-flight: a template or prompt error stops the run before anything is written
            engine.render(it.prompt)
        run_folder = RunFolder.open(
            out,
            "generate",
            args,
            resume=cfg.resume,
            overwrite=cfg.overwrite,
            identity=IDENTITY,
            retry=eng.retry,
        )
        with run_folder, console.progress_bars() as bar:
            summary = run_generate(engine, items, params, run_folder, progress=bar)
    return GenerateResult(Path(out), summary, build_report([out]))
