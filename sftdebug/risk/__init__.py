"""Before SFT: which rows of an SFT file the base model would have to unlearn (conflicts) or learn from nothing
(unknown), and what that predicts (`sftdebug risk --base B --data FILE`).

    labels.py   pure: turns, few-shot prompts, the label of a turn and of a row
    summary.py  pure: shares with intervals, riskiest rows, the predicted effect (lab curve, Gekhman et al.)
    run.py      drives the base model over the rows (resumable);  write.py  filtered / relabelled copies
    report.py   HTML section and terminal view;  cli.py  the command
"""

from sftdebug.risk.labels import LABELS, label_turn, turns_of
from sftdebug.risk.summary import summarize

__all__ = ["LABELS", "label_turn", "summarize", "turns_of"]
