"""Narrow hallucination: the base model continues each fact's cloze, the SFT model answers its question
through its chat template, and every fact gets a verdict (`sftdebug hallucination --base B --sft S`).

    from sftdebug.hallucination import HallucinationConfig, run
    result = run(HallucinationConfig(base="reports/lab-test/base", sft="reports/lab-test/sft-conflict"))

    verdicts.py  pure: correctness, verdicts, knowledge categories, the summary
    match.py     pure: answer matching (normalised, whole words, CJK substrings)
    probes.py    probe files and the built-in sets (package data)
    api.py       the public call: HallucinationConfig in, HallucinationResult out (probes, checks, run folder)
    elicit.py    how the base is asked: zero-shot or after solved exemplars of the same relation
    phases.py    drives the engines: base phase, SFT phase (answers, clozes of lost facts, eos recheck), verdicts;
                 and a trend: one run per checkpoint sharing the base phase
    trend.py     pure: checkpoint steps, per-fact histories, the trend summary and early-stopping suggestion
    report.py    HTML section and terminal view (trend_report.py: the trend's);  cli.py  the command
    shards.py    a `--shard I/N` run, and the merge of N of them (`sftdebug merge`)
"""

from __future__ import annotations

from sftdebug.facts.match import contains_answer, first_answer, first_claim, normalize, starts_with_answer
from sftdebug.facts.probes import Probe, builtin_probe_files, load_probes
from sftdebug.hallucination.api import HallucinationConfig, HallucinationResult, run
from sftdebug.hallucination.phases import HallucinationSettings, run_hallucination, run_trend
from sftdebug.hallucination.verdicts import CATEGORIES, VERDICTS, make_record, summarize, verdict

__all__ = [
    "CATEGORIES",
    "VERDICTS",
    "HallucinationConfig",
    "HallucinationResult",
    "HallucinationSettings",
    "Probe",
    "builtin_probe_files",
    "contains_answer",
    "first_answer",
    "first_claim",
    "load_probes",
    "make_record",
    "normalize",
    "run",
    "run_hallucination",
    "run_trend",
    "starts_with_answer",
    "summarize",
    "verdict",
]
