"""`sftdebug hallucination` against lm-evaluation-harness doing the same job by hand: lm-eval run twice (the base
model continuing each cloze, the SFT model answering each question through its chat template), verdicts then
judged from lm-eval's logged samples with sftdebug's own rules. Same probes, same models, same token budgets
(base 16 tokens stopping at a newline, SFT 64), same batch size, both as the command a user would type, in one
run; the ratio is quoted, and the verdicts of the two are compared probe by probe.

sftdebug does more in its time (candidate ranking on the base side, the eos recheck); lm-eval's figure has
neither. Needs lm-eval (`make bench` installs it).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from common import lab, timed

from sftdebug.core.runs import read_records
from sftdebug.facts.probes import Probe, load_probes
from sftdebug.hallucination.verdicts import base_correct, sft_correct, verdict

N_PROBES = 610
BATCH = 16
TASK = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{{field}}}}}"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: {until}
  max_gen_toks: {max_new}
  do_sample: false
metric_list:
  - metric: exact_match
"""


def lm_eval_tasks(probes: list[Probe], tmp: Path) -> Path:
    """lm-eval task files for the two halves of the job (base cloze, SFT chat), over `probes`, in `tmp/tasks`."""
    data = tmp / "probes.jsonl"
    data.write_text(
        "".join(json.dumps({"id": p.id, "cloze": p.cloze[0], "question": p.question[0], "answer": p.answer}) + "\n"
        for p in probes)
    )  # fmt: skip
    tasks = tmp / "tasks"
    tasks.mkdir()
    for name, field, until, max_new in (
        ("sftdebug_base", "cloze", '["\\n"]', 16),
        ("sftdebug_sft", "question", "[]", 64),
    ):
        (tasks / f"{name}.yaml").write_text(
            TASK.format(name=name, data=data, field=field, until=until, max_new=max_new)
        )
    return tasks


def lm_eval(
    model: Path, task: str, tasks_dir: Path, out: Path, chat: bool, batch: int = BATCH
) -> tuple[float, dict[str, str]]:
    """One timed lm-eval run (the command a user types); seconds and the generated text by probe id."""
    argv = [
        sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={model},dtype=float32",
        "--tasks", task, "--include_path", str(tasks_dir), "--batch_size", str(batch), "--device", "cpu",
        "--output_path", str(out), "--log_samples",
    ]  # fmt: skip
    seconds = timed([*argv, "--apply_chat_template"] if chat else argv)
    [samples] = out.rglob(f"samples_{task}_*.jsonl")
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    return seconds, {r["doc"]["id"]: r["resps"][0][0] for r in rows}


def run() -> str:
    root = lab("demo")
    probes = load_probes(root / "probes.jsonl")[:N_PROBES]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tasks = lm_eval_tasks(probes, tmp)
        (tmp / "probes_subset.jsonl").write_text(
            "".join(line + "\n" for line in (root / "probes.jsonl").read_text().splitlines()[:N_PROBES])
        )
        ours_s = timed(
            [
                sys.executable, "-m", "sftdebug", "hallucination", "--base", str(root / "base"),
                "--sft", str(root / "sft-healthy"), "--probes", str(tmp / "probes_subset.jsonl"),
                "--batch-size", str(BATCH), "--out", str(tmp / "ours"),
            ]
        )  # fmt: skip
        base_s, base_out = lm_eval(root / "base", "sftdebug_base", tasks, tmp / "lm-base", chat=False)
        sft_s, sft_out = lm_eval(root / "sft-healthy", "sftdebug_sft", tasks, tmp / "lm-sft", chat=True)
        ours = {r["probe_id"]: r["verdict"] for r in read_records(tmp / "ours")}
    theirs = {
        p.id: verdict(p, base_correct(base_out[p.id], p), sft_correct(sft_out[p.id], p), base_out[p.id], sft_out[p.id])
        for p in probes
    }
    same = sum(ours[k] == theirs[k] for k in ours)
    lm_s = base_s + sft_s
    return (
        f"## hallucination vs lm-evaluation-harness ({N_PROBES} probes, demo lab: base + sft-healthy, batch {BATCH})\n\n"
        "| tool | seconds | probes/s |\n|---|---|---|\n"
        f"| `sftdebug hallucination` (both phases, candidates ranked, eos recheck, report) | {ours_s:.1f} | "
        f"{N_PROBES / ours_s:.1f} |\n"
        f"| lm-eval, base cloze ({base_s:.1f} s) + SFT chat ({sft_s:.1f} s) | {lm_s:.1f} | {N_PROBES / lm_s:.1f} |\n\n"
        f"sftdebug takes **{ours_s / lm_s:.2f}×** the time of lm-eval run twice (goal ≤ 0.5×); "
        f"verdicts equal on {same}/{len(ours)} probes.\n"
    )
