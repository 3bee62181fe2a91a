"""What every diagnostic shares, with no torch: errors, run folders, the one resumable loop, statistics,
JSONL and atomic file I/O, progress callbacks.

    from sftdebug.core import RunFolder, run_resumable, wilson
"""

from __future__ import annotations

from sftdebug.core.errors import EngineError, UsageError
from sftdebug.core.io import read_jsonl, write_json_atomic, write_jsonl, write_text_atomic
from sftdebug.core.loop import pending, run_resumable
from sftdebug.core.progress import Progress, no_progress
from sftdebug.core.runs import Journal, RunFolder, load_run, read_records, read_summary
from sftdebug.core.stats import bootstrap_ci, mean, percentiles, wilson

__all__ = [
    "EngineError",
    "Journal",
    "Progress",
    "RunFolder",
    "UsageError",
    "bootstrap_ci",
    "load_run",
    "mean",
    "no_progress",
    "pending",
    "percentiles",
    "read_jsonl",
    "read_records",
    "read_summary",
    "run_resumable",
    "wilson",
    "write_json_atomic",
    "write_jsonl",
    "write_text_atomic",
]
