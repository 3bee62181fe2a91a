"""sftdebug: diagnostics for supervised-fine-tuned language models.

Light on import (no torch, transformers or vllm): the engines and heavy modules load on first use.

    import sftdebug
    df = sftdebug.load_run("reports/demo/hallucination-sft-conflict")
"""

from __future__ import annotations

from sftdebug.core.runs import SCHEMA_VERSIONS, load_run, read_records, read_summary
from sftdebug.diagnostics import KINDS

SCHEMA_VERSIONS.update({name: kind.schema for name, kind in KINDS.items()})

__version__ = "0.1.0"
__all__ = ["__version__", "load_run", "read_records", "read_summary"]
