"""`sftdebug overfit make|eval|run`: special-token facts to measure memorisation, overfitting and collateral
damage (see overfit/canary.py, factset.py, evaluate.py, sweep.py)."""

from __future__ import annotations

import argparse
from typing import Any

from sftdebug.cliargs import add_engine_args, add_run_args


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
    rn.add_argument(
        "--method",
        choices=["full", "lora"],
        default="full",
        help="full fine-tuning (default) or a PEFT LoRA adapter per setting (the new tokens' rows trained with it)",
    )
    rn.add_argument("--lora-rank", type=int, default=16)
    rn.add_argument("--lora-alpha", type=int, default=32)
    rn.add_argument("--lora-targets", default="all-linear", help="PEFT target modules (default all-linear)")
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
    """`overfit make`: the flags as a FactSetConfig, the library call, one line."""
    from sftdebug.overfit.api import FactSetConfig, make
    from sftdebug.report import terminal as console

    fact_set = make(
        FactSetConfig(
            out=args.out,
            n_facts=args.n_facts,
            relations=[r.strip() for r in args.relations.split(",")],
            repeats=args.repeats,
            control_share=args.control_share,
            seed=args.seed,
        )
    )
    console.note(
        f"fact set in {args.out}: {len(fact_set.info['tokens'])} new tokens, {args.n_facts} facts "
        f"({round(args.control_share * args.n_facts)} controls)"
    )
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """`overfit eval`: the flags as an OverfitEvalConfig, the library call, the terminal view."""
    from sftdebug.cliargs import engine_config
    from sftdebug.overfit.api import OverfitEvalConfig
    from sftdebug.overfit.api import run_eval as evaluate
    from sftdebug.overfit.report import print_eval
    from sftdebug.report import terminal as console

    result = evaluate(
        OverfitEvalConfig(
            model=args.model,
            facts=args.facts,
            base=args.base,
            probes=args.probes,
            reference=args.reference,
            engine=engine_config(args),
            out=args.out,
            resume=args.resume,
            overwrite=args.overwrite,
        )
    )
    print_eval(result.summary, str(result.path))
    console.note(f"records: {result.path}/records.jsonl · report: {result.report}")
    return 0


def run_sweep(args: argparse.Namespace) -> int:
    """`overfit run`: the flags as an OverfitConfig, the library call, the terminal view."""
    from sftdebug.cliargs import engine_config
    from sftdebug.overfit.api import OverfitConfig
    from sftdebug.overfit.api import run as sweep
    from sftdebug.overfit.report import print_sweep
    from sftdebug.report import terminal as console

    result = sweep(
        OverfitConfig(
            base=args.base,
            sft_data=args.sft_data,
            facts=args.facts,
            n_facts=args.n_facts,
            epochs=args.epochs,
            lrs=args.lrs,
            batch_size=args.batch_size,
            seed=args.seed,
            method=args.method,
            lora_rank=args.lora_rank,
            lora_alpha=args.lora_alpha,
            lora_targets=args.lora_targets,
            probes=args.probes,
            reference=args.reference,
            engine=engine_config(args),  # its batch size is --batch-size too, as the evaluation always had it
            out=args.out,
            resume=args.resume,
            overwrite=args.overwrite,
        )
    )
    print_sweep(result.summary, str(result.path))
    console.note(f"report: {result.report}")
    return 0
