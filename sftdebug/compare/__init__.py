"""Two hallucination runs side by side: paired counts of facts fixed and broken, McNemar's exact test."""

from sftdebug.compare.paired import GATE_METRICS, compare_runs

__all__ = ["GATE_METRICS", "compare_runs"]
