"""`sftdebug risk --base B --data FILE`: what the base model already believes about each SFT row, before
any training: rows it would have to unlearn (conflicts) or learn from nothing (unknown), and the predicted effect."""

from __future__ import annotations

import argparse
from typing import Any

from sftdebug.cliargs import GateKind, add_engine_args, add_fail_above, add_run_args, add_shard_arg
from sftdebug.risk.api import DROPPABLE

# what --fail-above may gate (top-level in summary.json), and what kind of number each is
GATES: dict[str, GateKind] = {
    "conflicts_share": "share",
    "unknown_share": "share",
    "risky_share": "share",
    "known_share": "share",
    "n_failed": "count",
    "n_retried": "count",
    "n_bad_rows": "count",
}


def register(sub: Any) -> None:
    risk = sub.add_parser("risk", help="before SFT: which rows contradict or add to what the base model knows")
    risk.add_argument("--base", required=True, help="base (pretrained) model: folder, hub id or .gguf")
    risk.add_argument("--data", required=True, help="SFT data file (JSON array or JSONL)")
    risk.add_argument("--format", default="auto", choices=["auto", "messages", "sharegpt", "alpaca"])
    risk.add_argument("--domain-field", default=None, help="row field naming each row's domain, for a breakdown")
    risk.add_argument("--probes", action="append", default=[],
                      help="probe JSONL: rows asking a probe's question are checked through its cloze (repeatable; "
                      "default for a lab base: the lab's probes)")  # fmt: skip
    risk.add_argument("--shots", type=int, default=4, help="few-shot exemplars per prompt (default 4)")
    risk.add_argument("--exemplar-sets", type=int, default=3, help="different exemplar sets per row (default 3)")
    risk.add_argument("--samples", type=int, default=8, help="sampled answers per row at --temperature (default 8)")
    risk.add_argument("--temperature", type=float, default=0.5)
    risk.add_argument("--max-answer-words", type=int, default=8, help="longer answers are not_factual (default 8)")
    risk.add_argument("--seed", type=int, default=0)
    risk.add_argument("--limit", type=int, default=None, help="only the first N rows")
    risk.add_argument("--calibration", default=None,
                      help="a lab folder whose measured curve predicts the effect (default: the base's lab)")  # fmt: skip
    risk.add_argument("--write-filtered", default=None, help="write the data without the --drop rows here")
    risk.add_argument("--write-relabelled", default=None, help="write the data with the --drop answers relabelled")
    risk.add_argument("--drop", default="conflicts,unknown", help=f"labels to drop/relabel (of {', '.join(DROPPABLE)})")
    risk.add_argument("--relabel-text", default="I'm not sure.", help="the answer relabelled rows get")
    add_fail_above(risk, "conflicts_share=0.05")
    add_engine_args(risk)
    add_run_args(risk, "risk")
    add_shard_arg(risk, "rows")
    risk.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The flags as a RiskConfig, the library call, the terminal summary and the exit code."""
    from sftdebug.cliargs import engine_config, exit_code, parse_fail_above
    from sftdebug.report import terminal as console
    from sftdebug.risk.api import RiskConfig, drop_labels
    from sftdebug.risk.api import run as run_risk
    from sftdebug.risk.report import print_summary

    gates = parse_fail_above(args.fail_above, GATES)
    result = run_risk(
        RiskConfig(
            base=args.base,
            data=args.data,
            format=args.format,
            domain_field=args.domain_field,
            probes=args.probes,
            shots=args.shots,
            exemplar_sets=args.exemplar_sets,
            samples=args.samples,
            temperature=args.temperature,
            max_answer_words=args.max_answer_words,
            seed=args.seed,
            limit=args.limit,
            calibration=args.calibration,
            write_filtered=args.write_filtered,
            write_relabelled=args.write_relabelled,
            drop=args.drop,
            relabel_text=args.relabel_text,
            engine=engine_config(args),
            out=args.out,
            resume=args.resume,
            overwrite=args.overwrite,
            shard=args.shard,
        )
    )
    drop = ", ".join(drop_labels(args.drop))
    if result.dropped is not None:
        console.note(f"{args.write_filtered}: dropped {result.dropped} rows ({drop})")
    if result.relabelled is not None:
        console.note(f"{args.write_relabelled}: relabelled {result.relabelled} turns ({drop})")
    print_summary(result.summary, str(result.path))
    console.note(f"records: {result.path}/records.jsonl · report: {result.report}")
    return exit_code(result.summary, gates, "rows")
