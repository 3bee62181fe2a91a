"""The `sftdebug` command: build the parser from the command modules, run one, map errors to exit codes.

    sftdebug hallucination --base reports/lab-demo/base --sft reports/lab-demo/sft-conflict
    sftdebug lab build --size test --out reports/lab-test
    sftdebug demo

Errors the user can fix print one line and exit 2 (`--debug` shows the traceback); engine failures exit 1;
an interrupted run exits 130 and continues with `--resume`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from sftdebug.errors import EngineError, UsageError

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    from sftdebug import __version__
    from sftdebug.commands import MODULES

    parser = argparse.ArgumentParser(prog="sftdebug", description="Diagnostics for supervised-fine-tuned LLMs.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="version", version=f"sftdebug {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in MODULES:
        importlib.import_module(f"sftdebug.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (UsageError, EngineError) as exc:
        if args.debug:
            raise
        from sftdebug.console import error

        error(str(exc))
        return EXIT_USAGE if isinstance(exc, UsageError) else EXIT_FAILED
    except KeyboardInterrupt:
        from sftdebug.console import error

        error("interrupted; finished records are saved: rerun with --resume to continue")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
