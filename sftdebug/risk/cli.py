"""`sftdebug risk --base B --data FILE`: what the base model already believes about each SFT row, before
any training: rows it would have to unlearn (conflicts) or learn from nothing (unknown), and the predicted effect."""

from __future__ import annotations

import argparse
import os
from typing import Any

from sftdebug.core.cliargs import GateKind, add_engine_args, add_fail_above, add_run_args, retry_policy

IDENTITY = ["base", "data", "format", "probes", "shots", "exemplar_sets", "samples", "temperature", "seed",
            "max_answer_words", "limit"]  # fmt: skip
DROPPABLE = ("conflicts", "unknown", "weakly_known")
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
    risk.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sftdebug.core.cliargs import (
        check_models,
        default_out,
        engine_options,
        exit_code,
        parse_fail_above,
        quiet_libraries,
    )
    from sftdebug.core.errors import UsageError
    from sftdebug.core.runs import RunFolder, read_records
    from sftdebug.data.formats import load_sft_file
    from sftdebug.engines import load_engine
    from sftdebug.hallucination.api import load_all
    from sftdebug.lab.layout import LabLayout
    from sftdebug.report import terminal as console
    from sftdebug.report.build import build_report
    from sftdebug.risk.labels import turns_of
    from sftdebug.risk.report import print_summary
    from sftdebug.risk.phases import RiskConfig, run_risk
    from sftdebug.risk.summary import summarize
    from sftdebug.risk.write import rewrite

    gates = parse_fail_above(args.fail_above, GATES)
    for flag, value, low in (("--shots", args.shots, 1), ("--exemplar-sets", args.exemplar_sets, 1),
                             ("--samples", args.samples, 0), ("--max-answer-words", args.max_answer_words, 1),
                             ("--limit", args.limit if args.limit is not None else 1, 1)):  # fmt: skip
        if value < low:
            raise UsageError(f"{flag} must be >= {low}, got {value}")
    if args.temperature <= 0:
        raise UsageError(f"--temperature must be > 0, got {args.temperature}")
    drop = {d.strip() for d in args.drop.split(",") if d.strip()}
    if not drop or drop - set(DROPPABLE):
        raise UsageError(f"--drop {args.drop!r}: expected a comma list of {', '.join(DROPPABLE)}")
    for flag, path in (("--write-filtered", args.write_filtered), ("--write-relabelled", args.write_relabelled)):
        if path and os.path.abspath(path) == os.path.abspath(args.data):
            raise UsageError(f"{flag} {path}: would overwrite the input data")
        if path and os.path.isdir(path):
            raise UsageError(f"{flag} {path}: is a folder; give a file path")
    data = load_sft_file(args.data, args.format, args.domain_field)
    rows = data.rows[: args.limit] if args.limit else data.rows
    turns = turns_of(rows)
    lab = LabLayout.of_model(args.base)
    probe_files = args.probes or ([str(lab.probes)] if lab and lab.probes.is_file() else [])
    probes = load_all(probe_files) if probe_files else []
    curve = _curve(args.calibration, lab)
    cfg = RiskConfig(shots=args.shots, exemplar_sets=args.exemplar_sets, samples=args.samples,
                     temperature=args.temperature, max_answer_words=args.max_answer_words, seed=args.seed)  # fmt: skip
    out = args.out or default_out("risk")
    RunFolder.precheck(out, args.resume, args.overwrite)
    quiet_libraries()
    options = engine_options(args)
    check_models(args, args.base)
    config = {**vars(args), "probes": probe_files, "format": data.format}
    with RunFolder.open(
        out, "risk", config, resume=args.resume, overwrite=args.overwrite, identity=IDENTITY, retry=retry_policy(args)
    ) as run:
        engine = load_engine(args.engine, args.base, **options)
        try:
            with console.progress_bars() as bar:
                meta = run_risk(engine, rows, turns, probes, cfg, run, bar)
        finally:
            engine.close()
        records = read_records(run.path)
        summary = summarize(records, curve)
        summary["n_bad_rows"] = len(data.bad)
        summary["n_retried"] = len(run.retried())
        summary["n_probes_matched"] = sum(1 for r in records for t in r["turns"] if t.get("probe_id"))
        summary["warnings"] = meta["warnings"]
        if "exemplars" in meta:
            summary["exemplars"] = meta["exemplars"]
        if data.bad:
            summary["warnings"].append(
                f"{len(data.bad)} rows could not be read (first: {data.bad[0].where}: {data.bad[0].reason})"
            )
        run.write_summary(summary)
    for path, relabel in ((args.write_filtered, None), (args.write_relabelled, args.relabel_text)):
        if path:
            n = rewrite(args.data, data.format, path, records, drop, relabel)
            console.note(
                f"{path}: {'relabelled' if relabel else 'dropped'} {n} {'turns' if relabel else 'rows'} ({', '.join(sorted(drop))})"
            )
    report = build_report([out])
    print_summary(summary, out)
    console.note(f"records: {out}/records.jsonl · report: {report}")
    return exit_code(summary, gates, "rows")


def _curve(calibration: str | None, lab: Any) -> list[dict[str, Any]]:
    """The measured curve of --calibration LAB (or of the base's own lab); [] when there is none."""
    import json
    from pathlib import Path

    from sftdebug.core.errors import UsageError
    from sftdebug.lab.layout import LabLayout

    layout = LabLayout(Path(calibration)) if calibration else lab
    if layout is None:
        return []
    if not layout.info.is_file():
        raise UsageError(f"--calibration {calibration}: not a lab folder (no lab.json)")
    return json.loads(layout.info.read_text(encoding="utf-8")).get("risk_calibration", [])
