"""Before SFT: which rows of an SFT file the base model would have to unlearn (conflicts) or learn from nothing
(unknown), and what that predicts (`sftdebug risk --base B --data FILE`).

    from sftdebug.risk import RiskConfig, run
    result = run(RiskConfig(base="reports/lab-test/base", data="reports/lab-test/data/sft-conflict.jsonl"))

    labels.py   pure: turns, few-shot prompts, the label of a turn and of a row
    summary.py  pure: shares with intervals, riskiest rows, the predicted effect (lab curve, Gekhman et al.)
    api.py      the public call: RiskConfig in, RiskResult out (probes, calibration, checks, run folder, copies)
    phases.py   drives the base model over the rows (resumable), `assess`: rows labelled and summarised
    write.py    filtered / relabelled copies;  report.py  HTML section and terminal view;  cli.py  the command
    shards.py   the merge of `--shard I/N` runs (`sftdebug merge`)
"""

from sftdebug.risk.api import DROPPABLE, RiskConfig, RiskResult, run
from sftdebug.risk.labels import LABELS, label_turn, turns_of
from sftdebug.risk.phases import RiskSettings, assess, run_risk
from sftdebug.risk.summary import summarize

__all__ = [
    "DROPPABLE",
    "LABELS",
    "RiskConfig",
    "RiskResult",
    "RiskSettings",
    "assess",
    "label_turn",
    "run",
    "run_risk",
    "summarize",
    "turns_of",
]
