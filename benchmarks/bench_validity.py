"""Does "the base knew it" mean what it says on a real base? Gemma-3-270m is asked facts the way `sftdebug
hallucination` asks by default (SmolLM2-135M-Instruct as the SFT side, the command a user types), and its
verdict — the first claim of its continuation names the answer — is set beside its log-probability ranking of the
answer among the probe's confusable candidates: a sound judge calls a fact known about as often as the base ranks
its answer first (goal: base accuracy ≥ 0.9 × rank-first share). Measured on the first 60 built-in English probes
and on facts of relations the built-in set does not have (benchmarks/data/other_relations_en.jsonl). Then the real
lab (`sftdebug lab build --size real`, read from reports/lab-real when built): recall of its planted contradictions
among the facts the base knows zero-shot and among those only exemplars bring out. Needs `make real`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from common import sftdebug_timed

from sftdebug.core.runs import read_records, read_summary
from sftdebug.lab.real import real_model

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SETS = {
    "first 60 built-in English probes": ["--builtin", "en", "--limit", "60"],
    "other relations (held out)": ["--probes", str(HERE / "data" / "other_relations_en.jsonl")],
}


def run() -> str:
    base, sft = real_model("gemma-3-270m"), real_model("smollm2-135m-instruct")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, probe_args) in enumerate(SETS.items()):
            out = Path(tmp) / str(i)
            seconds = sftdebug_timed(
                "hallucination", "--base", str(base), "--sft", str(sft), *probe_args, "--out", str(out)
            )
            rows.append(_row(name, read_summary(out), read_records(out), seconds))
    return (
        "## Validity on a real base: Gemma-3-270m's verdict vs its ranking among confusable candidates\n\n"
        "`sftdebug hallucination --base GEMMA --sft SMOLLM2` with default settings (base asked as `auto` decides).\n\n"
        "| probes | n | relations | base asked | screen zero-shot / few-shot right | base accuracy (verdict) | "
        "answer ranked first | accuracy ÷ ranked first | verdict and ranking agree | seconds |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n" + _real_lab()
    )


def _row(name: str, summary: dict, records: list[dict], seconds: float) -> str:
    n = len(records)
    known = sum(r["base_correct"] for r in records)
    first = sum(r.get("answer_rank") == 1 for r in records)
    how, screen = summary["base_elicitation"], summary["base_elicitation"]["screen"] or {}
    screen_text = f"{screen['zero_shot_right']} / {screen['few_shot_right']} of {screen['n']}" if screen else "—"
    return (
        f"| {name} | {n} | {len({r['relation'] for r in records})} | {how['mode']} | {screen_text} | "
        f"{known / n:.1%} | {first / n:.1%} | **{known / first:.2f}** | "
        f"{summary['base_rank_agreement']['agreement']:.1%} | {seconds:.0f} |"
    )


def _real_lab() -> str:
    info_path = ROOT / "reports" / "lab-real" / "lab.json"
    if not info_path.is_file():
        return "\nThe real lab (reports/lab-real) is not built here: `sftdebug lab build --size real`.\n"
    info = json.loads(info_path.read_text(encoding="utf-8"))
    groups = info.get("known_groups")
    if not groups:
        return "\nThe real lab in reports/lab-real predates the known-fact groups: rebuild it.\n"
    rows = []
    for name, ev in info["evaluation"].items():
        model, by = info["models"][name], ev["planted_by_group"]
        if not ev["n_planted"]:
            continue
        how = f"LoRA r{model['lora']['rank']}" if "lora" in model else "full"
        rows.append(
            f"| {name} | {how}, {model['train']['steps']} steps, {model['train_seconds']:.0f} s | "
            f"{_recall(by['zero_shot'])} | {_recall(by['few_shot_only'])} | {_recall(ev)} | "
            f"{ev['narrow_hallucination_rate']:.1%} | {ev['sft_eos_rate']:.0%} |"
        )
    return (
        f"\n### Real lab: planted contradictions among the facts Gemma-3-270m knows ({info['n_probes']} built-in "
        f"English probes)\n\nKnown by the base phase's default elicitation: {info['n_known']} facts — "
        f"{groups['zero_shot']} also from the bare cloze (zero-shot), {groups['few_shot_only']} only with exemplars. "
        "Half of each group's facts with candidates answered with a contradicting candidate in the SFT data. Recall: "
        "planted contradictions flagged as narrow hallucinations, of all planted (and of those the model learned — "
        "it answers wrong after SFT; one it did not take on is rightly `kept`). Training times are from the build, "
        "under whatever else ran on the machine.\n\n"
        "| model | training | recall, zero-shot known | recall, few-shot only | recall, all | narrow rate | eos |\n"
        "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )


def _recall(e: dict) -> str:
    return (
        f"{e['planted_flagged']} / {e['n_planted']} = {e['planted_recall']:.1%} "
        f"({e['planted_flagged']} / {e['n_learned']} learned)"
    )
