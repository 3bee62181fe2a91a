"""The shape of compare.json (what `sftdebug compare` writes beside its page), declared for mypy: the page, the
terminal view and the gates read it by these names.

    result = compare_runs(records_a, records_b)   # a Comparison
    result["sft_correct"]["p_value"], result["by_relation"]["capital"]["fixed"]
"""

# No `from __future__ import annotations` (as in hallucination/schema.py): NotRequired keys must be visible at run
# time, where tests/test_summaries.py checks written files against these types.
from typing import NotRequired, TypedDict


class Paired(TypedDict):
    """One yes/no outcome over the same facts in A and B: the four cells and McNemar's p."""

    n: int
    a_rate: float | None
    b_rate: float | None
    a_only: int  # true in A, false in B
    b_only: int
    both: int
    p_value: float


class Block(TypedDict):
    """The paired counts of a group of facts (all of them, or one relation)."""

    sft_correct: Paired
    narrow: Paired
    fixed: int
    broken: int
    newly_narrow: int
    no_longer_narrow: int


class Flip(TypedDict):
    """A fact the SFT model got right in one run and wrong in the other."""

    probe_id: str
    relation: str | None
    answer: str
    change: str  # fixed | broken
    a_verdict: str
    b_verdict: str
    sft_prompt: str
    a_text: str
    b_text: str


class RunRef(TypedDict):
    path: str
    sft: str | None
    base: str | None


class Comparison(Block):
    """compare.json: B against A over all facts, per relation, and the facts that changed."""

    n_probes: int
    by_relation: dict[str, Block]
    flips: list[Flip]
    run_a: NotRequired[RunRef]  # which runs (added by api.run)
    run_b: NotRequired[RunRef]
