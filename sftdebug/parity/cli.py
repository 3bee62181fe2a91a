"""`sftdebug parity`: does the server feed the model the tokens it was trained on?

    sftdebug parity --data train.json --tokenizer sft-model --serve-gguf model.gguf
    sftdebug parity --data train.json --tokenizer sft-model --endpoint http://127.0.0.1:8000 --model sft
    sftdebug parity --data train.json --tokenizer sft-model --serve-tokenizer served-folder --fail-above rows_differing=0

Exit 1 when any row differs (a release gate), 3 when a `--fail-above` gate fails instead, 2 on bad input.
"""

from __future__ import annotations

import argparse
from typing import Any

from sftdebug.cliargs import GateKind, add_fail_above, add_run_args

# what --fail-above may gate in parity's summary.json
GATES: dict[str, GateKind] = {"rows_differing": "count", "rows_skipped": "count"}


def register(sub: Any) -> None:
    p = sub.add_parser("parity", help="check that a server builds the prompt tokens the model was trained on")
    p.add_argument("--data", required=True, help="SFT data: JSON array or JSONL, OpenAI messages, ShareGPT or alpaca")
    p.add_argument("--tokenizer", required=True, help="the training tokenizer folder (its chat template trains)")
    p.add_argument("--template", default=None, help="a Jinja file used as the training chat template instead")
    p.add_argument("--format", default="auto", choices=["auto", "messages", "sharegpt", "alpaca"])
    g = p.add_argument_group("serving side (exactly one)")
    g.add_argument("--serve-tokenizer", default=None, help="a tokenizer folder as the server loads it")
    g.add_argument(
        "--serve-gguf", default=None, help="a GGUF file: its template and vocabulary, as llama.cpp uses them"
    )
    g.add_argument("--endpoint", default=None, help="a running server (vLLM /tokenize or llama.cpp /apply-template)")
    g.add_argument("--model", default=None, help="--endpoint: the served model name")
    g.add_argument("--serve-template", default=None, help="a Jinja file the server renders instead of the shipped one")
    g.add_argument(
        "--serve-encoding",
        default="chat",
        choices=["chat", "text"],
        help="--serve-tokenizer: chat = the rendered prompt encoded without adding special tokens (default; vLLM's "
        "chat endpoint, apply_chat_template(tokenize=True)); text = with the tokenizer's own special tokens (TGI, "
        "SGLang, hand-written servers: a template that writes BOS then gets a second one)",
    )
    g.add_argument(
        "--gguf-engine",
        default="auto",
        choices=["auto", "llama.cpp", "approximation"],
        help="--serve-gguf: llama.cpp's own tokenizer through llama-cpp-python (auto: when installed), or the "
        "approximation through transformers' GGUF tokenizer",
    )
    g.add_argument(
        "--gguf-template",
        default="jinja",
        choices=["jinja", "builtin"],
        help="--serve-gguf: jinja = the template itself, as llama-server --jinja (default); builtin = llama.cpp's "
        "built-in engine, which writes a recognised family's format (llama-server without --jinja; needs llama.cpp)",
    )
    g.add_argument("--api-key", default=None, help="--endpoint: API key (default $OPENAI_API_KEY); never written")
    g.add_argument("--timeout", type=float, default=60.0, help="--endpoint: seconds per request (default 60)")
    p.add_argument("--limit", type=int, default=None, help="compare only the first N rows")
    p.add_argument("--show", type=int, default=3, help="rows per kind shown token by token (default 3)")
    p.add_argument("--trust-remote-code", action="store_true", help="allow the tokenizers' own Python code")
    add_fail_above(p, "rows_differing=0")
    add_run_args(p, "parity")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The flags as a ParityConfig, the library call, the terminal view and the exit code."""
    from sftdebug.cliargs import check_gates, parse_fail_above
    from sftdebug.parity.api import ParityConfig
    from sftdebug.parity.api import run as run_parity
    from sftdebug.parity.report import print_result
    from sftdebug.report import terminal as console

    gates = parse_fail_above(args.fail_above, GATES)
    result = run_parity(
        ParityConfig(
            data=args.data,
            tokenizer=args.tokenizer,
            out=args.out,
            serve_tokenizer=args.serve_tokenizer,
            serve_gguf=args.serve_gguf,
            endpoint=args.endpoint,
            model=args.model,
            format=args.format,
            template=args.template,
            serve_template=args.serve_template,
            serve_encoding=args.serve_encoding,
            gguf_engine=args.gguf_engine,
            gguf_template=args.gguf_template,
            api_key=args.api_key,
            timeout=args.timeout,
            limit=args.limit,
            show=args.show,
            resume=args.resume,
            overwrite=args.overwrite,
            trust_remote_code=args.trust_remote_code,
        )
    )
    print_result(result.summary, result.rows, str(result.path))
    console.note(f"records: {result.path}/records.jsonl · report: {result.report}")
    summary = result.summary
    if summary["rows_skipped"]:
        first = summary["skipped"][0]
        console.warn(
            f"{summary['rows_skipped']} rows were not compared: the training template cannot encode them "
            f"(first: {first['row']}: {first['reason']}); `sftdebug data` shows why"
        )
    code = check_gates(gates, summary)
    if summary["rows_differing"] and "rows_differing" not in gates:
        code = code or 1
    if not summary["rows"]:  # nothing compared proves nothing: no release passes on it
        console.error("no row could be compared")
        code = code or 1
    return code
