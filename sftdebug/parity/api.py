"""`sftdebug parity` as one typed call: does the server feed the model the tokens it was trained on?

    from sftdebug.parity import ParityConfig, run
    result = run(ParityConfig(data="train.json", tokenizer="sft-model", serve_gguf="model.gguf"))
    result.summary["rows_differing"], result.summary["kinds"], result.rows   # rows: the records in data order

Exactly one serving side: a tokenizer folder as the server loads it (`serve_tokenizer`), a GGUF file
(`serve_gguf`) or a running server (`endpoint` + `model`). Everything that can be checked is checked before the
run folder exists (one-line UsageErrors). The comparison itself is check.py's `run_parity`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sftdebug.core.errors import UsageError
from sftdebug.core.runs import RunResult
from sftdebug.parity.sides import ENCODINGS

# the arguments a resumed run must share with the run it continues
IDENTITY = [
    "data",
    "tokenizer",
    "template",
    "format",
    "serve_tokenizer",
    "serve_template",
    "serve_gguf",
    "endpoint",
    "serve_encoding",
    "gguf_engine",
    "gguf_template",
]


@dataclass(frozen=True)
class ParityConfig:
    data: str
    tokenizer: str
    serve_tokenizer: str | None = None
    serve_gguf: str | None = None
    endpoint: str | None = None
    model: str | None = None
    format: str = "auto"
    template: str | None = None  # a Jinja file replacing the training tokenizer's chat template
    serve_template: str | None = None  # and the serving side's (llama-server --chat-template-file)
    serve_encoding: str = "chat"
    gguf_engine: str = "auto"  # llama.cpp (llama-cpp-python), approximation, or auto: llama.cpp when installed
    gguf_template: str = "jinja"  # or builtin: llama.cpp's own template engine (llama-server without --jinja)
    api_key: str | None = None
    timeout: float = 60.0
    limit: int | None = None
    show: int = 3
    resume: bool = False
    overwrite: bool = False
    trust_remote_code: bool = False
    out: str | None = None  # run folder (default: reports/parity/<time>)

    def validate(self) -> None:
        sides = [s for s in (self.serve_tokenizer, self.serve_gguf, self.endpoint) if s]
        if len(sides) != 1:
            raise UsageError(
                "give exactly one serving side: --serve-tokenizer DIR, --serve-gguf FILE or --endpoint URL"
            )
        if self.endpoint and not self.model:
            raise UsageError("--endpoint needs --model NAME (the model name the server serves)")
        if self.serve_encoding not in ENCODINGS:
            raise UsageError(f"--serve-encoding {self.serve_encoding!r}: expected one of {', '.join(ENCODINGS)}")
        if self.gguf_engine not in ("auto", "llama.cpp", "approximation"):
            raise UsageError(f"--gguf-engine {self.gguf_engine!r}: expected auto, llama.cpp or approximation")
        if (self.limit is not None and self.limit < 1) or self.show < 0:
            raise UsageError("--limit must be >= 1 and --show >= 0")
        for flag, path in (("--template", self.template), ("--serve-template", self.serve_template)):
            if path and not Path(path).is_file():
                raise UsageError(f"{flag} {path}: no such file")


@dataclass(frozen=True)
class ParityResult(RunResult[dict[str, Any]]):
    """A parity run's folder, summary.json and report.html; `rows`: its records in the data's row order."""

    rows: list[dict[str, Any]] = field(default_factory=list)


def run(cfg: ParityConfig) -> ParityResult:
    """Compare every trained turn between the trainer and the serving side; write the run folder, its summary
    and report."""
    from dataclasses import replace

    from sftdebug.parity.check import run_parity
    from sftdebug.report import terminal as console
    from sftdebug.report.build import build_report

    with console.progress_bars() as bar:
        result = run_parity(cfg, bar)
    return replace(result, report=build_report([result.path]))
