"""Overfitting and knowledge loss, measured with brand-new special-token facts (`sftdebug overfit make|eval|run`).

    from sftdebug.overfit import OverfitConfig, run
    result = run(OverfitConfig(base="reports/lab-test/base", epochs=(2, 25), lrs=(3e-3,), n_facts=8))

canary.py      pure: the facts, eval items, exposure, verdicts
factset.py     a fact set on disk (`overfit make`)
evaluate.py    `overfit eval`: recall, exposure, collateral damage, through engines
embeddings.py  the HF-only step: did the new tokens' embedding rows move?
sweep.py       `overfit run`: train one checkpoint per setting and evaluate each
api.py         the public calls: make (FactSetConfig), run_eval (OverfitEvalConfig), run (OverfitConfig)
report.py      HTML sections and terminal views;  cli.py  the commands
"""

from __future__ import annotations

from sftdebug.overfit.api import (
    FactSet,
    FactSetConfig,
    OverfitConfig,
    OverfitEvalConfig,
    OverfitResult,
    make,
    run,
    run_eval,
)
from sftdebug.overfit.canary import FORMS, CanaryFact, EvalItem, eval_items, exposure, make_facts, train_rows
from sftdebug.overfit.evaluate import Collateral, evaluate
from sftdebug.overfit.factset import load_dir, make_dir
from sftdebug.overfit.sweep import dose_response, sweep

__all__ = [
    "FORMS",
    "CanaryFact",
    "Collateral",
    "EvalItem",
    "FactSet",
    "FactSetConfig",
    "OverfitConfig",
    "OverfitEvalConfig",
    "OverfitResult",
    "dose_response",
    "eval_items",
    "evaluate",
    "exposure",
    "load_dir",
    "make",
    "make_dir",
    "make_facts",
    "run",
    "run_eval",
    "sweep",
    "train_rows",
]
