"""`sftdebug generate`: one model over a prompt file, every completion recorded (see generate/phases.py)."""

from __future__ import annotations

import argparse
from typing import Any

from sftdebug.core.cliargs import add_engine_args, add_run_args, retry_policy


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
    gen.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from contextlib import closing

    from sftdebug.core.cliargs import check_models, default_out, engine_options, exit_code, quiet_libraries
    from sftdebug.core.errors import UsageError
    from sftdebug.core.runs import RunFolder
    from sftdebug.engines import SamplingParams, load_engine
    from sftdebug.generate.phases import run_generate
    from sftdebug.generate.prompts import PromptItem, read_prompts
    from sftdebug.report import terminal as console
    from sftdebug.report.build import build_report

    try:
        params = SamplingParams(
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            top_p=args.top_p,
            n=args.n,
            seed=args.seed,
            stop=tuple(args.stop),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.prompts:
        items = read_prompts(args.prompts)
    else:
        items = [PromptItem("0", [{"role": "user", "content": args.prompt}] if args.chat else args.prompt)]
    out = args.out or default_out("generate")
    RunFolder.precheck(out, args.resume, args.overwrite)
    quiet_libraries()
    check_models(args, args.model)
    with closing(load_engine(args.engine, args.model, **engine_options(args))) as engine:
        for it in items:  # pre-flight: a template or prompt error stops the run before anything is written
            engine.render(it.prompt)
        run_folder = RunFolder.open(
            out,
            "generate",
            vars(args),
            resume=args.resume,
            overwrite=args.overwrite,
            identity=["model", "prompts", "prompt", "max_new_tokens", "temperature", "n", "seed"],
            retry=retry_policy(args),
        )
        with run_folder, console.progress_bars() as bar:
            summary = run_generate(engine, items, params, run_folder, progress=bar)
    rows = [[r["id"], r["sample"], r["text"], r["finish_reason"]] for r in run_folder.records()[:10]]
    console.table(f"first completions ({out})", ["id", "sample", "text", "finish"], rows)
    console.kv("summary", summary)
    console.note(f"records: {out}/records.jsonl · report: {build_report([out])}")
    return exit_code(summary, what="samples")
