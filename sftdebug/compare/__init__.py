"""Two hallucination runs side by side: paired counts of facts fixed and broken, McNemar's exact test.

    from sftdebug.compare import CompareConfig, run
    result = run(CompareConfig(run_a="reports/hallucination/before", run_b="reports/hallucination/after"))

paired.py  pure: the pairing and the test;  schema.py  what compare.json holds (typed)
report.py  HTML page and terminal view
api.py     the public call: CompareConfig in, CompareResult out;  cli.py  the command
"""

from sftdebug.compare.api import CompareConfig, CompareResult, run
from sftdebug.compare.paired import GATE_METRICS, compare_runs

__all__ = ["GATE_METRICS", "CompareConfig", "CompareResult", "compare_runs", "run"]
