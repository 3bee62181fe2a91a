"""Where `sftdebug hallucination` spends its time on the real models, and how it races lm-evaluation-harness doing
the same job: Gemma-3-270m base vs SmolLM2-135M-Instruct, 100 built-in English probes, transformers engine, batch
32, default budgets (base 16 tokens stopping at a newline, SFT 64). Each stage (base phase, SFT phase, SFT cloze,
eos recheck) is timed from the progress callbacks the CLI turns into bars: from a stage's first report to its last,
so a model's load falls between stages, in the whole command's time only. lm-eval (0.4.13, `make bench` installs
it) runs twice — the base continuing each bare cloze, SmolLM2 answering through its chat template — with the same
budgets and batch, in the same run. sftdebug does more in its time (few-shot base prompts and a second exemplar
set, candidate ranking on both sides, the cloze of lost facts, the eos recheck). Needs `make real`.

    .venv/bin/python benchmarks/bench_stages.py            # prints the markdown section
    .venv/bin/python benchmarks/bench_stages.py --child ARGS  # one timed run in this process (JSON on stdout)

Run it from another checkout (`PYTHONPATH=/path/to/other/checkout`) to compare two versions in the same conditions.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

N_PROBES = 100
BATCH = 32


def child(argv: list[str]) -> dict[str, Any]:
    """Run the CLI in this process with timestamping progress callbacks; stage seconds and the whole command's."""
    import sftdebug.report.terminal as term
    from sftdebug.cli import main

    stages: dict[str, list[float]] = {}

    @contextlib.contextmanager
    def timing_bars() -> Iterator[Any]:
        def report(task: str, done: int, total: int, info: str = "") -> None:
            now = time.perf_counter()
            stages.setdefault(task.split(" (retry")[0], [now, now, 0])[1:] = [now, done]

        yield report

    term.progress_bars = timing_bars  # type: ignore[assignment]
    t0 = time.perf_counter()
    rc = main(argv)
    total = time.perf_counter() - t0
    import torch

    return {
        "rc": rc,
        "total_s": total,
        "threads": torch.get_num_threads(),
        "stages": {k: {"s": v[1] - v[0], "n": v[2]} for k, v in stages.items()},
    }


def timed_stages(out: Path, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    from sftdebug.lab.real import real_model

    base, sft = real_model("gemma-3-270m"), real_model("smollm2-135m-instruct")
    argv = ["hallucination", "--base", str(base), "--sft", str(sft), "--builtin", "en", "--limit", str(N_PROBES),
            "--batch-size", str(BATCH)]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, __file__, "--child", *argv, *extra, "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"stage run failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run() -> str:
    from bench_lmeval import lm_eval, lm_eval_tasks

    from sftdebug.facts.probes import builtin_probe_files, load_probes
    from sftdebug.lab.real import real_model

    probes = load_probes(builtin_probe_files("en")[0])[:N_PROBES]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        got = timed_stages(tmp / "run")
        summary = json.loads((tmp / "run" / "summary.json").read_text())
        tasks = lm_eval_tasks(probes, tmp)
        base_s, _ = lm_eval(real_model("gemma-3-270m"), "sftdebug_base", tasks, tmp / "lm-base", False, BATCH)
        sft_s, _ = lm_eval(real_model("smollm2-135m-instruct"), "sftdebug_sft", tasks, tmp / "lm-sft", True, BATCH)
    stops, how = summary["sft_stopping"], summary["base_elicitation"]
    lm_s, ours_s = base_s + sft_s, got["total_s"]
    rows = [f"| — {k} | {v['n']} | {v['s']:.0f} | {v['s'] / ours_s:.0%} |" for k, v in got["stages"].items()]
    return (
        f"## hallucination stage by stage, and against lm-evaluation-harness: Gemma-3-270m base vs "
        f"SmolLM2-135M-Instruct ({N_PROBES} built-in English probes, transformers, batch {BATCH})\n\n"
        "| work | items | seconds | share |\n|---|---|---|---|\n"
        f"| lm-eval run twice: base cloze ({base_s:.0f} s) + SFT chat ({sft_s:.0f} s), model loads included | "
        f"{N_PROBES} | {lm_s:.0f} | |\n"
        f"| `sftdebug hallucination`, whole command (model loads included) | {N_PROBES} | {ours_s:.0f} | 100% |\n"
        + "\n".join(rows)
        + f"\n\nsftdebug takes **{ours_s / lm_s:.2f}×** the time of lm-eval run twice (goal ≤ 0.5×). The base was "
        f"asked {how['mode']} ({how['shots']} exemplars; lm-eval's cloze is bare). eos recheck: "
        f"{stops.get('n_rechecked', 0)} of {stops['n_cut_at_budget']} cut answers continued, "
        f"{stops.get('recheck_stop_rate', 0):.0%} ended with eos (95% CI {_ci(stops.get('recheck_stop_ci95'))}). "
        f"sftdebug ran {got['threads']} torch threads (its default on a machine not otherwise busy: engines/hf.py)."
        "\n"
    )


def _ci(ci: list[float] | None) -> str:
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "none"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(child(sys.argv[2:])))
    else:
        print(run())
