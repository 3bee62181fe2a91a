"""`sftdebug generate`: one model over a prompt file, every completion recorded.

prompts.py  pure: prompt files and the summary;  phases.py  drives the engine
report.py   HTML section;  cli.py  the command
"""

from __future__ import annotations

from sftdebug.generate.phases import run_generate
from sftdebug.generate.prompts import PromptItem, read_prompts, summarize

__all__ = ["PromptItem", "read_prompts", "run_generate", "summarize"]
