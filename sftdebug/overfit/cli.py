"""`sftdebug overfit make|eval|run`: special-token facts to measure memorisation, overfitting and collateral
damage (see overfit/canary.py, factset.py, evaluate.py, sweep.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sftdebug.core.cliargs import add_engine_args, add_run_args, retry_policy


def _csv(kind: type) -> Any:
    def parse(text: str) -> tuple[Any, ...]:
        try:
            values = tuple(kind(v) for v in text.split(",") if v.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__}s, got {text!r}") from None
        if not values or any(v <= 0 for v in values):
            raise argparse.ArgumentTypeError(f"expected positive values, got {text!r}")
        return values

    return parse


def register(sub: Any) -> None:
    ov = sub.add_parser("overfit", help="special-token facts: memorisation vs generalisation, and what SFT costs")
    ov_sub = ov.add_subparsers(dest="overfit_command", required=True, metavar="OVERFIT_COMMAND")

    mk = ov_sub.add_parser("make", help="make a fact set: tokens.json, train.jsonl, eval.jsonl")
    mk.add_argument("--n-facts", type=int, default=50)
    mk.add_argument("--relations", default="likes,mentors", help="comma-separated: likes, mentors, admires, follows")
    mk.add_argument("--repeats", type=int, default=3, help="copies of each trained fact in train.jsonl")
    mk.add_argument("--control-share", type=float, default=0.2, help="share of facts never trained (controls)")
    mk.add_argument("--seed", type=int, default=0)
    mk.add_argument("--out", required=True, help="fact-set folder")
    mk.set_defaults(run=run_make)

    ev = ov_sub.add_parser("eval", help="recall per question form, exposure, embedding movement, collateral damage")
    ev.add_argument("--model", required=True, help="the SFT checkpoint trained with the facts")
    ev.add_argument("--facts", required=True, help="fact-set folder from `overfit make`")
    _collateral_args(ev)
    add_engine_args(ev)
    add_run_args(ev, "overfit")
    ev.set_defaults(run=run_eval)

    rn = ov_sub.add_parser("run", help="train one checkpoint per epochs × lr setting and evaluate each")
    rn.add_argument("--base", required=True, help="the base model to fine-tune (a lab base by default layout)")
    rn.add_argument("--sft-data", default=None, help="SFT data (messages or alpaca JSONL; default: the lab's)")
    rn.add_argument("--facts", default=None, help="fact set (default: made with --n-facts in DIR/facts)")
    rn.add_argument("--n-facts", type=int, default=40)
    rn.add_argument("--epochs", type=_csv(int), default=(1, 3, 10, 30), help="default 1,3,10,30")
    rn.add_argument("--lrs", type=_csv(float), default=(1e-3,), help="default 1e-3")
    rn.add_argument("--batch-size", type=int, default=16)
    rn.add_argument("--seed", type=int, default=0)
    _collateral_args(rn, base_flag=False)
    add_engine_args(rn, batch_size=False)  # evaluation engine; training always runs sftdebug's own trainer
    add_run_args(rn, "overfit")
    rn.set_defaults(run=run_sweep)


def _collateral_args(p: argparse.ArgumentParser, base_flag: bool = True) -> None:
    if base_flag:
        p.add_argument("--base", default=None, help="the base model: enables collateral-damage measures")
    p.add_argument("--probes", default=None, help="probe file for the narrow-hallucination rate (default: lab's)")
    p.add_argument("--reference", default=None, help="reference texts for perplexity drift (default: lab's)")


def run_make(args: argparse.Namespace) -> int:
    from sftdebug.core.errors import UsageError
    from sftdebug.overfit.factset import make_dir
    from sftdebug.report import terminal as console

    if args.n_facts < 2 or args.repeats < 1 or not 0 <= args.control_share < 1:
        raise UsageError("--n-facts must be >= 2, --repeats >= 1 and --control-share in [0, 1)")
    info = make_dir(
        Path(args.out),
        args.n_facts,
        [r.strip() for r in args.relations.split(",")],
        args.repeats,
        args.control_share,
        args.seed,
    )
    console.note(
        f"fact set in {args.out}: {len(info['tokens'])} new tokens, {args.n_facts} facts "
        f"({round(args.control_share * args.n_facts)} controls)"
    )
    return 0


def _collateral(args: argparse.Namespace, base: str | None) -> Any:
    from sftdebug.core.errors import UsageError
    from sftdebug.overfit.evaluate import Collateral
    from sftdebug.overfit.sweep import lab_defaults, reference_texts

    if base is None:
        return None
    probes = args.probes or lab_defaults(base)[1]
    if probes is None:
        raise UsageError("--base is not a lab model: give --probes FILE for the narrow-hallucination rate")
    return Collateral(base=base, probes=str(probes), reference=reference_texts(base, args.reference))


def _open_model(args: argparse.Namespace) -> Any:
    """model name -> an engine of the chosen kind (the evaluation's only door to models)."""
    from sftdebug.core.cliargs import engine_options
    from sftdebug.engines import load_engine

    options = engine_options(args)
    return lambda name: load_engine(args.engine, name, **options)


def _reports(run_dir: Path) -> Path:
    """report.html for an overfit evaluation folder and for its collateral hallucination sub-run."""
    from sftdebug.report.build import build_report

    if (run_dir / "collateral" / "summary.json").is_file():
        build_report([run_dir / "collateral"])
    return build_report([run_dir])


def run_eval(args: argparse.Namespace) -> int:
    from sftdebug.core.cliargs import check_models, default_out, engine_options, quiet_libraries
    from sftdebug.core.runs import RunFolder
    from sftdebug.overfit.evaluate import evaluate
    from sftdebug.overfit.factset import load_dir
    from sftdebug.overfit.report import print_eval
    from sftdebug.report import terminal as console

    load_dir(Path(args.facts))  # validate before anything is written
    collateral = _collateral(args, args.base)
    out = args.out or default_out("overfit")
    RunFolder.precheck(out, args.resume, args.overwrite)
    quiet_libraries()
    engine_options(args)  # its flags are checked now, not when the first model loads inside the run
    check_models(args, args.model, *([args.base] if args.base else []))
    with (
        RunFolder.open(
            out,
            "overfit",
            vars(args),
            resume=args.resume,
            overwrite=args.overwrite,
            identity=["model", "facts", "base"],
            retry=retry_policy(args),
        ) as run,
        console.progress_bars() as bar,
    ):
        summary = evaluate(_open_model(args), args.model, Path(args.facts), run, bar, collateral)
    print_eval(summary, out)
    console.note(f"records: {out}/records.jsonl · report: {_reports(Path(out))}")
    return 0


def run_sweep(args: argparse.Namespace) -> int:
    from sftdebug.core.cliargs import default_out, engine_options, quiet_libraries
    from sftdebug.core.errors import UsageError
    from sftdebug.core.runs import RunFolder
    from sftdebug.engines.source import check_remote_code, resolve_model
    from sftdebug.overfit.factset import make_dir
    from sftdebug.overfit.report import print_sweep
    from sftdebug.overfit.sweep import lab_defaults, read_conversations, sweep
    from sftdebug.report import terminal as console
    from sftdebug.report.build import build_report

    if args.n_facts < 2 or args.batch_size < 1:
        raise UsageError(f"--n-facts must be >= 2 and --batch-size >= 1 (got {args.n_facts}, {args.batch_size})")
    sft_data = args.sft_data or lab_defaults(args.base)[0]
    if sft_data is None:
        raise UsageError("--base is not a lab model: give --sft-data FILE (messages or alpaca rows)")
    convs = read_conversations(Path(sft_data))
    collateral = _collateral(args, args.base)
    out = Path(args.out or default_out("overfit"))
    RunFolder.precheck(out, args.resume, args.overwrite)
    quiet_libraries()
    check_remote_code(resolve_model(args.base), args.base, args.trust_remote_code)  # trained here, whatever the engine
    engine_options(args)  # the evaluation engine's flags, checked before the run folder exists
    with (
        RunFolder.open(
            out,
            "overfit_sweep",
            vars(args),
            resume=args.resume,
            overwrite=args.overwrite,
            identity=["base", "sft_data", "facts", "n_facts", "seed"],
            retry=retry_policy(args),
        ) as top,
        console.progress_bars() as bar,
    ):
        facts_dir = Path(args.facts) if args.facts else out / "facts"
        if not args.facts and not (facts_dir / "tokens.json").is_file():
            make_dir(facts_dir, args.n_facts, ("likes", "mentors"), 3, 0.2, args.seed)
        settings = [(e, lr) for lr in args.lrs for e in args.epochs]
        summary = sweep(
            _open_model(args), args.base, facts_dir, convs, settings, top, collateral, args.batch_size, args.seed, bar
        )
        top.write_summary(summary)
    for setting in summary["settings"]:
        _reports(out / setting["key"])
    print_sweep(summary, str(out))
    console.note(f"report: {build_report([out])}")
    return 0
