"""`sftdebug generate`: one model over a prompt file, every completion recorded (see generate/phases.py)."""

from __future__ import annotations

import argparse
from typing import Any

from sftdebug.cliargs import add_engine_args, add_run_args, add_shard_arg


def register(sub: Any) -> None:
    gen = sub.add_parser("generate", help="run one model over a prompt file, recording every completion")
    gen.add_argument("--model", required=True, help="Hugging Face folder or hub id")
    src = gen.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompts", help="JSONL with 'prompt' (raw text) or 'messages' (chat) per line")
    src.add_argument("--prompt", help="one prompt given on the command line")
    gen.add_argument("--chat", action="store_true", help="send --prompt as a user message via the chat template")
    gen.add_argument("--max-new-tokens", type=int, default=64)
    gen.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    gen.add_argument("--top-p", type=float, default=1.0)
    gen.add_argument("--n", type=int, default=1, help="samples per prompt")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    add_engine_args(gen)
    add_run_args(gen, "generate")
    add_shard_arg(gen, "prompts")
    gen.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The flags as a GenerateConfig, the library call, the first completions and the exit code."""
    from sftdebug.cliargs import engine_config, exit_code
    from sftdebug.core.runs import read_records
    from sftdebug.generate.api import GenerateConfig
    from sftdebug.generate.api import run as run_generate
    from sftdebug.report import terminal as console

    result = run_generate(
        GenerateConfig(
            model=args.model,
            prompts=args.prompts,
            prompt=args.prompt,
            chat=args.chat,
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            top_p=args.top_p,
            n=args.n,
            seed=args.seed,
            stop=args.stop,
            engine=engine_config(args),
            out=args.out,
            resume=args.resume,
            overwrite=args.overwrite,
            shard=args.shard,
        )
    )
    rows = [[r["id"], r["sample"], r["text"], r["finish_reason"]] for r in read_records(result.path)[:10]]
    console.table(f"first completions ({result.path})", ["id", "sample", "text", "finish"], rows)
    console.kv("summary", {k: v for k, v in result.summary.items() if k != "replicas"})
    console.replicas(result.summary)
    console.note(f"records: {result.path}/records.jsonl · report: {result.report}")
    return exit_code(result.summary, what="samples")
