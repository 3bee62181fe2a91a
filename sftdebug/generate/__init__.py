"""`sftdebug generate`: one model over a prompt file, every completion recorded.

    from sftdebug.generate import GenerateConfig, run
    result = run(GenerateConfig(model="reports/lab-test/base", prompt="Pul Gafuley lives in"))

prompts.py  pure: prompt files and the summary;  phases.py  drives the engine
api.py      the public call: GenerateConfig in, GenerateResult out;  report.py  HTML section;  cli.py  the command
shards.py   the merge of `--shard I/N` runs (`sftdebug merge`)
"""

from __future__ import annotations

from sftdebug.generate.api import GenerateConfig, GenerateResult, run
from sftdebug.generate.phases import run_generate
from sftdebug.generate.prompts import PromptItem, read_prompts, summarize

__all__ = ["GenerateConfig", "GenerateResult", "PromptItem", "read_prompts", "run", "run_generate", "summarize"]
