"""`sftdebug data`: lint an SFT data file against the tokenizer and chat template training will use.

    sftdebug data train.jsonl --tokenizer path/to/model --max-len 2048 --out reports/data/train

Shows exactly what the model will be trained on (a loss-mask view of the first rows) and runs the checks of
data/checks.py; exits 1 when a check fails, so it can gate a training job in CI.
"""

from __future__ import annotations

import argparse
from typing import Any

from sftdebug.cliargs import add_run_args


def register(sub: Any) -> None:
    p = sub.add_parser("data", help="lint SFT data against the tokenizer and chat template used for training")
    p.add_argument("file", help="SFT data: JSON array or JSONL, OpenAI messages, ShareGPT or alpaca rows")
    p.add_argument("--tokenizer", required=True, help="model or tokenizer folder (or hub id) whose template trains")
    p.add_argument("--format", default="auto", choices=["auto", "messages", "sharegpt", "alpaca"])
    p.add_argument("--max-len", type=int, default=2048, help="training sequence length (default 2048)")
    p.add_argument("--loss-on", default="all", choices=["all", "last"], help="train every answer or the last")
    p.add_argument("--train-on-prompt", action="store_true", help="prompt tokens take loss too")
    p.add_argument("--domain-field", default=None, help="row field naming each row's domain (default: detect)")
    p.add_argument("--show", type=int, default=3, help="rows shown token by token (default 3)")
    p.add_argument(
        "--max-bad-rows", type=float, default=0.05, help="share of malformed rows above which the lint fails (0.05)"
    )
    p.add_argument("--trust-remote-code", action="store_true", help="allow the tokenizer's own Python code")
    add_run_args(p, "data")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The flags as a DataConfig, the library call, the loss-mask view and checks, and the exit code."""
    from sftdebug.data.api import DataConfig
    from sftdebug.data.api import run as run_data
    from sftdebug.report import terminal as console

    result = run_data(
        DataConfig(
            file=args.file,
            tokenizer=args.tokenizer,
            format=args.format,
            max_len=args.max_len,
            loss_on=args.loss_on,
            train_on_prompt=args.train_on_prompt,
            domain_field=args.domain_field,
            show=args.show,
            max_bad_rows=args.max_bad_rows,
            trust_remote_code=args.trust_remote_code,
            out=args.out,
            resume=args.resume,
            overwrite=args.overwrite,
        )
    )
    _print(result.summary, result.rows, str(result.path))
    console.note(f"records: {result.path}/records.jsonl · report: {result.report}")
    return 1 if result.failed else 0


def _print(summary: dict[str, Any], records: list[dict[str, Any]], out: str) -> None:
    from sftdebug.report import terminal as console

    for r in records:
        if r.get("token_view"):
            console.tokens(f"{r['key']}: {r['tokens']} tokens, {r['trained']} trained", r["token_view"])
    for b in summary["bad_rows"][:10]:
        console.warn(f"{b['row']}: {b['reason']}")
    rows = [[c["id"], console.status(c["status"]), c["count"], c["message"]] for c in summary["checks"]]
    console.table(f"data checks ({out})", ["check", "status", "count", "finding"], rows)
    for c in summary["checks"]:
        if c["status"] in ("fail", "warn"):
            for e in c["examples"][:3]:
                console.note(f"  {c['id']}: {e['row']}: {e['detail']}")
