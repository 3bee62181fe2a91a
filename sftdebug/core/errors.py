"""User-facing errors.

Anything the user can fix (a bad flag, a missing model folder, a malformed probe line) is raised as
`UsageError` with one line that names the culprit and the fix; the CLI prints it and exits 2 without a
traceback (`--debug` shows one).
"""

from __future__ import annotations


class UsageError(Exception):
    """Bad arguments or inputs: printed as one line, exit code 2."""


class EngineError(Exception):
    """An engine failed in a way the user cannot fix by changing arguments (exit code 1)."""
