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
from typing import Any, NoReturn

from sftdebug.core.errors import EngineError, UsageError
from sftdebug.diagnostics import DIAGNOSTICS

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as the one line every other input error is (the usage stays under --help).

    Abbreviated flags are refused: `--api sk-…` would otherwise be taken as `--api-key`, and a spelling the
    redaction of config.json's command line did not foresee could write a key to disk. The error line itself
    is redacted too (it may quote the secret)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        from sftdebug.core.runs import redact_text
        from sftdebug.report.terminal import error

        error(redact_text(f"{self.prog}: {message} (see {self.prog} --help)", sys.argv[1:]))
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    from sftdebug import __version__

    parser = _Parser(prog="sftdebug", description="Diagnostics for supervised-fine-tuned LLMs.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="version", version=f"sftdebug {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # each command module keeps its heavy imports inside its run function: the whole parser stays instant
    for diagnostic in DIAGNOSTICS:
        importlib.import_module(diagnostic.cli).register(sub)
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
    except Exception as exc:  # not a mistake of the user's: say so, in one line, and keep the traceback
        if args.debug:
            raise
        from sftdebug.report.terminal import error

        first = (str(exc).splitlines() or [""])[0][:200]
        error(f"internal error, this is a bug: {type(exc).__name__}: {first} (traceback: {_save_traceback()})")
        return EXIT_FAILED


def _save_traceback() -> str:
    """The current exception's traceback in a temporary file (its path goes in the one-line message)."""
    import tempfile
    import traceback

    with tempfile.NamedTemporaryFile("w", prefix="sftdebug-crash-", suffix=".txt", delete=False) as fh:
        traceback.print_exc(file=fh)
    return fh.name


if __name__ == "__main__":
    sys.exit(main())
