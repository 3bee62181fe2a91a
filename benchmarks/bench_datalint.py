"""`sftdebug data` on 100k rows: the whole command (every check, run folder, report) against the least any
trainer does to the same rows (render the chat template and tokenize once), in one process.

Rows are the real alpaca samples in ../shared/realdata (English and Chinese), cycled to 100k with a row number
appended to each instruction so that prompts stay distinct.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from common import ROOT, lab

from sftdebug.cli import main
from sftdebug.core.runs import read_summary
from sftdebug.sftdata.formats import load_sft_file

N_ROWS = 100_000
REALDATA = ROOT.parent / "shared" / "realdata"


def _write_rows(path: Path) -> None:
    seed = [r for f in ("alpaca_en_demo.json", "alpaca_zh_demo.json") for r in json.loads((REALDATA / f).read_text())]
    with path.open("w", encoding="utf-8") as fh:
        for i in range(N_ROWS):
            row = seed[i % len(seed)]
            fh.write(json.dumps({**row, "instruction": f"{row['instruction']} (#{i})"}, ensure_ascii=False) + "\n")


def _tokenize_once(path: Path, tokenizer_dir: Path) -> float:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    rows = load_sft_file(path).rows
    start = time.perf_counter()
    for row in rows:
        tok(tok.apply_chat_template(row.messages, tokenize=False), add_special_tokens=False)
    return time.perf_counter() - start


def run() -> str:
    tokenizer_dir = lab() / "sft-healthy"
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "rows.jsonl"
        _write_rows(data)
        start = time.perf_counter()
        code = main(["data", str(data), "--tokenizer", str(tokenizer_dir), "--out", f"{tmp}/run", "--show", "0"])
        lint = time.perf_counter() - start
        summary = read_summary(f"{tmp}/run")
        baseline = _tokenize_once(data, tokenizer_dir)
    assert summary["n_rows"] == N_ROWS, summary["n_rows"]
    return (
        f"## data: {N_ROWS:,} rows linted (alpaca en + zh, lab tokenizer, every check, exit code {code})\n\n"
        "| work | seconds | rows/s |\n|---|---|---|\n"
        f"| `sftdebug data` (load, encode with prefix checks, checks, records, report) | {lint:.1f} | "
        f"{N_ROWS / lint:,.0f} |\n"
        f"| render + tokenize each row once (the least a trainer does) | {baseline:.1f} | {N_ROWS / baseline:,.0f} |\n\n"
        f"The full lint costs **{lint / baseline:.1f}×** a single tokenization pass.\n"
    )
