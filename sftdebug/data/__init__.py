"""SFT data lint: a data file checked against the tokenizer and chat template training will use, before any
GPU time is spent (`sftdebug data FILE --tokenizer MODEL`).

    from sftdebug.data import DataConfig, run
    result = run(DataConfig(file="reports/lab-test/sft_data.jsonl", tokenizer="reports/lab-test/sft-healthy"))

    lint.py     one record per row, and the template's own facts
    checks.py   pure: the checks over those records, and the summary
    api.py      the public call: DataConfig in, DataResult out (checks, run folder, summary, report);
                lint_batches: a trainer's collated batches, checked the same way (batches.py)
    report.py   HTML section and the loss-mask view;  cli.py  the command

Reading data files and encoding conversations live in sftdebug/sftdata/ (shared with risk, parity, overfit and
the lab's trainer); their public names are re-exported here too.
"""

from __future__ import annotations

from sftdebug.data.api import DataConfig, DataResult, lint_batches, run
from sftdebug.data.checks import run_checks, summarize
from sftdebug.data.lint import LintOptions, lint_rows, template_facts
from sftdebug.sftdata import FORMATS, IGNORE, BadRow, Encoded, Row, SFTData, encode_conversation, load_sft_file

__all__ = [
    "FORMATS",
    "IGNORE",
    "BadRow",
    "DataConfig",
    "DataResult",
    "Encoded",
    "LintOptions",
    "Row",
    "SFTData",
    "encode_conversation",
    "lint_batches",
    "lint_rows",
    "load_sft_file",
    "run",
    "run_checks",
    "summarize",
    "template_facts",
]
