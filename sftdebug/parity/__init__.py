"""Training/serving prompt parity (`sftdebug parity`): does the server feed the model the tokens it was trained on?

    from sftdebug.parity import ParityConfig, run
    result = run(ParityConfig(data="train.json", tokenizer="sft-model", serve_tokenizer="served-folder"))

compare.py        pure: two token sequences aligned, each difference located and named
sides.py          the trainer's prompts (the data lint's encoding) and a tokenizer folder as a server loads it
gguf_side.py      a GGUF's template and vocabulary as llama.cpp serves them (llama-cpp-python, else approximated)
endpoint_side.py  a running server: vLLM /tokenize with messages, llama.cpp /apply-template + /tokenize
api.py            the public call: ParityConfig in, ParityResult out (run folder, summary, report)
check.py          run_parity: every row compared, the run folder and summary;  report.py  HTML + terminal
cli.py            the command
"""

from __future__ import annotations

from sftdebug.parity.api import ParityConfig, ParityResult, run
from sftdebug.parity.check import run_parity
from sftdebug.parity.compare import KINDS, Difference, Region, Side, compare_prompt

__all__ = [
    "KINDS",
    "Difference",
    "ParityConfig",
    "ParityResult",
    "Region",
    "Side",
    "compare_prompt",
    "run",
    "run_parity",
]
