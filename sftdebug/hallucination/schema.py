"""The shape of a hallucination run's summary.json and of a trend's, declared for mypy: the readers (reports,
trend, gates, the lab, the training callback) get a type error for a misspelt key, not a KeyError at run time.

Declaring changes nothing on disk. Keys marked NotRequired are absent from some runs: written only when there
is something to say (`by_split`, the rank agreements), or by newer versions than the run (`sft_stopping`, the
format / knowledge loss split, `base_elicitation`), so readers `.get` them.

    summary = read_hallucination_summary("reports/hallucination/run")
    summary["narrow_hallucination_rate"], summary.get("sft_stopping")
"""

# No `from __future__ import annotations` here (unlike everywhere else): with string annotations Python 3.11 cannot
# tell NotRequired keys at run time (`__required_keys__`), which tests/test_summaries.py checks runs against.
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

from sftdebug.core.runs import RunSummary, read_summary


class LossSplit(TypedDict, total=False):
    """Narrow hallucinations of the facts the base knew, split by the SFT model's cloze (runs since 0.3)."""

    format_loss: int  # the SFT model still completes the cloze: only the chat answer lost the fact
    format_loss_rate: float
    knowledge_loss: int  # it no longer completes the cloze either
    knowledge_loss_rate: float


class Headline(LossSplit):
    """The headline figures of a group of facts (a relation, a language, a split)."""

    n: int
    base_known: int
    narrow: int
    narrow_hallucination_rate: float | None  # None: the base knew none of these facts
    ci95: list[float] | None
    base_accuracy: float | None
    sft_accuracy: float | None


class RecheckRule(TypedDict):
    batch: int
    most: int
    threshold: float
    settled: bool


class Stopping(TypedDict):
    """How the SFT model stops: answers cut at --max-new-tokens, and (when rechecked) how a sample of them ended
    with more budget."""

    n_cut_at_budget: int
    recheck_budget_factor: NotRequired[int]
    n_rechecked: NotRequired[int]
    recheck_stop_rate: NotRequired[float]
    recheck_stop_ci95: NotRequired[list[float]]
    recheck_rule: NotRequired[RecheckRule]


class Screen(TypedDict):
    n: int
    zero_shot_right: int
    few_shot_right: int


class BaseElicitation(TypedDict):
    """How the base was asked (elicit.py): the mode requested and used, the exemplar count, the screen's counts."""

    requested: str
    mode: str
    shots: int
    screen: Screen | None


class AnswerRank(TypedDict):
    mean: float
    rank1_rate: float | None


class RankAgreement(TypedDict):
    """The base's generation verdict against its candidate ranking, fact by fact."""

    n: int
    agreement: float
    generated_not_ranked_first: list[str]
    ranked_first_not_generated: list[str]


class SFTRankAgreement(TypedDict):
    """The SFT model's chat answer against its log-probability judgement, fact by fact."""

    n: int
    agreement: float
    answered_not_ranked_first: list[str]
    ranked_first_not_answered: list[str]


class Example(TypedDict):
    probe_id: str
    answer: str | None
    base_prompt: str
    base_text: str
    sft_prompt: str
    sft_text: str


class HallucinationSummary(RunSummary, LossSplit):
    """summary.json of a hallucination run (one SFT model against its base)."""

    n_probes: int
    base_known: int
    counts: dict[str, int]  # verdict -> facts
    narrow_hallucination_rate: float | None  # None: the base knew no fact
    narrow_hallucination_ci95: list[float] | None
    base_accuracy: float | None
    sft_accuracy: float | None
    sft_eos_rate: float | None
    sft_eos_ci95: list[float] | None
    sft_stopping: NotRequired[Stopping]
    by_relation: dict[str, Headline]
    by_lang: dict[str, Headline]
    by_split: NotRequired[dict[str, Headline]]
    examples: list[Example]  # a few narrow hallucinations
    warnings: list[str]
    base_answer_rank: NotRequired[AnswerRank]
    base_rank_agreement: NotRequired[RankAgreement]
    sft_rank_agreement: NotRequired[SFTRankAgreement]
    category_transitions: NotRequired[dict[str, dict[str, int]]]  # base category -> SFT category -> facts
    base_elicitation: NotRequired[BaseElicitation]
    n_failed: NotRequired[int]  # probes that still failed after the retry rounds
    n_retried: NotRequired[int]


class TrendRow(TypedDict):
    """One checkpoint of a trend: where it is, its step, and its run's headline figures (None: not in its run)."""

    name: str
    path: str
    step: int
    step_from: str  # trainer_state.json | folder name | order
    narrow_hallucination_rate: float | None
    narrow_hallucination_ci95: list[float] | None
    sft_accuracy: float | None
    sft_eos_rate: float | None
    format_loss_rate: float | None
    knowledge_loss_rate: float | None
    n_failed: int | None
    by_relation: dict[str, float | None]  # relation -> narrow-hallucination rate


class SuggestedCheckpoint(TypedDict):
    name: str
    path: str
    step: int
    why: str


class TrendNotes(TypedDict, total=False):
    """What a training callback adds to a live trend's summary (sftdebug.integrations.transformers)."""

    stopped: dict[str, Any]  # why and when it stopped training
    batch_lint: dict[str, Any]  # the lint of the collator's own batches


class TrendSummary(RunSummary, TrendNotes):
    """summary.json of a hallucination trend (several checkpoints against one base); the last checkpoint's
    figures sit at the top level, where `--fail-above` gates them."""

    n_checkpoints: int
    n_probes: int
    checkpoints: list[TrendRow]
    narrow_hallucination_rate: float | None
    sft_accuracy: float | None
    sft_eos_rate: float | None
    format_loss_rate: float | None
    knowledge_loss_rate: float | None
    n_failed: int
    n_retried: int
    suggested_checkpoint: SuggestedCheckpoint | None
    n_lost_at_some_step: int
    n_regained: int
    warnings: list[str]


def read_hallucination_summary(path: str | Path) -> HallucinationSummary:
    """summary.json of a hallucination run, as its declared shape (checked like any summary by `read_summary`)."""
    return cast(HallucinationSummary, read_summary(path))
