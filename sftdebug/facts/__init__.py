"""Facts as every diagnostic asks them: probe files (one fact per line: clozes, questions, the answer, its aliases
and confusable candidates), the built-in real-world sets, and the judge of an answer (match.py: normalised,
whole words, CJK substrings, first claims). Shared by hallucination, risk, data and overfit; pure, no torch.

    probes.py         Probe, load_probes / load_probe_files, builtin_probe_files, continuation
    match.py          normalize, contains_answer, starts_with_answer, first_claim, first_answer
    builtin_probes/   world_facts_en.jsonl, world_facts_zh.jsonl (written by probes/build_probes.py)
"""

from __future__ import annotations

from sftdebug.facts.match import contains_answer, first_answer, first_claim, normalize, starts_with_answer, words_of
from sftdebug.facts.probes import Probe, builtin_probe_files, continuation, load_probe_files, load_probes, statement

__all__ = [
    "Probe",
    "builtin_probe_files",
    "contains_answer",
    "continuation",
    "first_answer",
    "first_claim",
    "load_probe_files",
    "load_probes",
    "normalize",
    "starts_with_answer",
    "statement",
    "words_of",
]
