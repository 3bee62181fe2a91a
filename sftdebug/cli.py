"""The `sftdebug` command: parse arguments, call one function, print. No diagnostic logic lives here.

    sftdebug lab build --size test --out reports/lab-test
    sftdebug generate --model reports/lab-test/sft-healthy --prompts prompts.jsonl --out reports/gen
    sftdebug demo

Errors the user can fix print one line and exit 2 (`--debug` shows the traceback); an interrupted run
exits 130 and continues with `--resume`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from sftdebug.errors import EngineError, UsageError

EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130


def add_engine_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("engine")
    g.add_argument("--engine", default="hf", help="engine that runs the model(s) (default: hf = transformers)")
    g.add_argument("--device", default=None, help="cuda, cuda:1, cpu… (default: cuda if available, else cpu)")
    g.add_argument(
        "--dtype",
        default=None,
        choices=["float32", "bfloat16", "float16"],
        help="default: bfloat16 on CUDA, float32 on CPU",
    )
    g.add_argument("--batch-size", type=int, default=16, help="prompts per forward pass (default 16)")
    g.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow a checkpoint's own Python code to run (only for checkpoints you trust)",
    )


def add_run_args(p: argparse.ArgumentParser, kind: str) -> None:
    p.add_argument("--out", default=None, help=f"run folder (default: reports/{kind}/<time>)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    g.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sftdebug", description="Diagnostics for supervised-fine-tuned LLMs.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="version", version=f"sftdebug {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lab = sub.add_parser("lab", help="tiny model organisms trained here, with known answers")
    lab_sub = lab.add_subparsers(dest="lab_command", required=True, metavar="LAB_COMMAND")
    build = lab_sub.add_parser("build", help="train the base model and its SFT variants")
    build.add_argument("--size", choices=["test", "demo"], default="test", help="test: <1 min; demo: <5 min")
    build.add_argument("--out", default=None, help="lab folder (default: reports/lab-<size>)")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--force", action="store_true", help="rebuild even if a complete lab is there")

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

    hal = sub.add_parser("hallucination", help="find narrow hallucinations: base continuation vs SFT answer, per fact")
    hal.add_argument("--base", required=True, help="base (pretrained) model: folder or hub id")
    hal.add_argument("--sft", required=True, help="SFT (chat) model: folder or hub id")
    hal.add_argument(
        "--probes",
        action="append",
        default=[],
        help="probe JSONL (repeatable; default: the lab's probes for a lab model, else the built-in sets)",
    )
    hal.add_argument("--builtin", default="en,zh", help="built-in probe languages when no --probes (default en,zh)")
    hal.add_argument("--samples", type=int, default=0, help="sampled answers per phrasing, for knowledge categories")
    hal.add_argument("--temperature", type=float, default=1.0, help="sampling temperature for --samples")
    hal.add_argument("--system", default=None, help="system prompt for the SFT side (a probe's own 'system' wins)")
    hal.add_argument("--max-new-tokens", type=int, default=64, help="SFT answer length limit (default 64)")
    hal.add_argument("--seed", type=int, default=0)
    hal.add_argument("--limit", type=int, default=None, help="only the first N probes")
    hal.add_argument("--csv", default=None, help="also write the per-fact records as CSV here")
    hal.add_argument(
        "--fail-above",
        action="append",
        default=[],
        metavar="METRIC=VALUE",
        help="exit 3 when a summary metric exceeds VALUE, e.g. narrow_hallucination_rate=0.1",
    )
    add_engine_args(hal)
    add_run_args(hal, "hallucination")

    rep = sub.add_parser("report", help="rebuild the HTML report from run folders")
    rep.add_argument("runs", nargs="+", help="run folders")
    rep.add_argument("--out", default=None, help="HTML file (default: report.html in the run folder)")

    demo = sub.add_parser("demo", help="build the demo lab and run the suite on it")
    demo.add_argument("--out", default=os.path.join("reports", "demo"))
    demo.add_argument("--size", choices=["test", "demo"], default="demo")
    return parser


def _version() -> str:
    from sftdebug import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from sftdebug import commands  # after parsing: `--help` never pays for imports

    try:
        return int(commands.dispatch(args) or 0)
    except UsageError as exc:
        if args.debug:
            raise
        from sftdebug.console import error

        error(str(exc))
        return EXIT_USAGE
    except EngineError as exc:
        if args.debug:
            raise
        from sftdebug.console import error

        error(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        from sftdebug.console import error

        error("interrupted; finished records are saved: rerun with --resume to continue")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
