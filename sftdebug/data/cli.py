"""`sftdebug data`: lint an SFT data file against the tokenizer and chat template training will use.

    sftdebug data train.jsonl --tokenizer path/to/model --max-len 2048 --out reports/data/train

Shows exactly what the model will be trained on (a loss-mask view of the first rows) and runs the checks of
data/checks.py; exits 1 when a check fails, so it can gate a training job in CI.
"""

from __future__ import annotations

import argparse
from typing import Any

from sftdebug.core.cliargs import add_run_args


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
    from sftdebug.core.cliargs import default_out
    from sftdebug.core.errors import UsageError
    from sftdebug.core.runs import RunFolder
    from sftdebug.data.formats import load_sft_file
    from sftdebug.report import terminal as console
    from sftdebug.report.build import build_report

    if args.max_len < 1 or args.show < 0:
        raise UsageError("--max-len must be >= 1 and --show >= 0")
    if not 0 <= args.max_bad_rows <= 1:
        raise UsageError(f"--max-bad-rows must be a share between 0 and 1, got {args.max_bad_rows}")
    data = load_sft_file(args.file, args.format, args.domain_field)
    out = args.out or default_out("data")
    RunFolder.precheck(out, args.resume, args.overwrite)
    tokenizer, folder = _load_tokenizer(args.tokenizer, args.trust_remote_code)
    run_folder = RunFolder.open(
        out,
        "data",
        vars(args),
        resume=args.resume,
        overwrite=args.overwrite,
        identity=["file", "tokenizer", "format", "max_len", "loss_on", "train_on_prompt", "domain_field", "show"],
    )
    with run_folder:
        summary, records = _lint(args, data, tokenizer, folder, run_folder)
    _print(summary, records, out)
    console.note(f"records: {out}/records.jsonl · report: {build_report([out])}")
    return 1 if summary["n_fail"] else 0


def _load_tokenizer(name: str, trust_remote_code: bool) -> tuple[Any, Any]:
    from sftdebug.core.cliargs import quiet_libraries
    from sftdebug.core.errors import UsageError
    from sftdebug.engines.source import resolve_tokenizer

    quiet_libraries()
    from transformers import AutoTokenizer

    folder = resolve_tokenizer(name)
    try:
        return AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code), folder
    except Exception as exc:
        raise UsageError(f"--tokenizer {name!r}: cannot load a tokenizer ({str(exc).splitlines()[0][:160]})") from exc


def _lint(
    args: argparse.Namespace, data: Any, tokenizer: Any, folder: Any, run_folder: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from sftdebug.data.checks import run_checks, summarize
    from sftdebug.data.lint import LintOptions, eos_ids, lint_rows, template_facts
    from sftdebug.report import terminal as console

    opts = LintOptions(max_len=args.max_len, loss_on=args.loss_on, train_on_prompt=args.train_on_prompt)
    eos = eos_ids(tokenizer, folder)
    facts = template_facts(tokenizer, sorted({m["role"] for r in data.rows for m in r.messages}), eos)
    with console.progress_bars() as bar:
        records = lint_rows(tokenizer, data.rows, eos, opts, run_folder, args.show, bar)
    bad = [(b.where, b.reason) for b in data.bad]
    checks = run_checks(
        records,
        facts,
        max_len=opts.max_len,
        loss_on=opts.loss_on,
        train_on_prompt=opts.train_on_prompt,
        by_field=args.domain_field is not None,
        bad=bad,
        max_bad_share=args.max_bad_rows,
        unknown_roles=dict(data.unknown_roles),
    )
    summary = {
        **summarize(records, checks, len(bad)),
        "format": data.format,
        "template": facts,
        "bad_rows": [{"row": w, "reason": why} for w, why in bad[:50]],
    }
    run_folder.write_summary(summary)
    return summary, records


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
