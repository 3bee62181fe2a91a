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
import logging
import sys
from collections.abc import Sequence

from sftdebug.core.errors import EngineError, UsageError

# command -> the module that registers it (`register(subparsers)`). Each keeps its heavy imports inside its run
# function, so building the whole parser for `sftdebug --help` stays instant.
COMMANDS = {
    "hallucination": "sftdebug.hallucination.cli",
    "latency": "sftdebug.latency.cli",
    "overfit": "sftdebug.overfit.cli",
    "generate": "sftdebug.generate.cli",
    "data": "sftdebug.data.cli",
    "lab": "sftdebug.lab.cli",
    "report": "sftdebug.report.cli",
    "convert": "sftdebug.engines.cli",
    "demo": "sftdebug.lab.demo",
}
EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    from sftdebug import __version__

    parser = argparse.ArgumentParser(prog="sftdebug", description="Diagnostics for supervised-fine-tuned LLMs.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="version", version=f"sftdebug {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        importlib.import_module(module).register(sub)
    return parser


class _NoteHandler(logging.Handler):
    """sftdebug's own log lines at INFO and above (e.g. "converting a GGUF checkpoint") as terminal notes."""

    def emit(self, record: logging.LogRecord) -> None:
        from sftdebug.report.terminal import note

        note(self.format(record))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logger = logging.getLogger("sftdebug")
    if not logger.handlers:
        logger.addHandler(_NoteHandler())
        logger.setLevel(logging.INFO)
    try:
        return int(args.run(args) or 0)
    except (UsageError, EngineError) as exc:
        if args.debug:
            raise
        from sftdebug.report.terminal import error

        error(str(exc))
        return EXIT_USAGE if isinstance(exc, UsageError) else EXIT_FAILED
    except KeyboardInterrupt:
        from sftdebug.report.terminal import error

        error("interrupted; finished records are saved: rerun with --resume to continue")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
