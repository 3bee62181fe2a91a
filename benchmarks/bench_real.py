"""Probes per second on the real models, per engine: Gemma-3-270m continues the built-in English facts and
SmolLM2-135M-Instruct answers them (`sftdebug hallucination` end to end, the command a user types), with
transformers and with vLLM (CPU build here), in one run; the two engines' verdicts are compared probe by probe.
Needs `make real` (the converted models in the cache).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from common import sftdebug_timed

from sftdebug.core.runs import read_records, read_summary
from sftdebug.lab.real import real_model

N_PROBES = 40


def run() -> str:
    base, sft = real_model("gemma-3-270m"), real_model("smollm2-135m-instruct")
    rows, verdicts, seconds = [], {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for engine in ("hf", "vllm"):
            out = Path(tmp) / engine
            seconds[engine] = sftdebug_timed(
                "hallucination", "--base", str(base), "--sft", str(sft),
                "--builtin", "en", "--limit", str(N_PROBES), "--engine", engine, "--out", str(out),
            )  # fmt: skip
            verdicts[engine] = {r["probe_id"]: r["verdict"] for r in read_records(out)}
            s = read_summary(out)
            rows.append(
                f"| {engine} | {seconds[engine]:.0f} | {N_PROBES / seconds[engine]:.2f} | {s['base_accuracy']:.1%} | "
                f"{s['sft_accuracy']:.1%} |"
            )
    same = sum(verdicts["hf"][k] == verdicts["vllm"].get(k) for k in verdicts["hf"])
    return (
        f"## real models: Gemma-3-270m base vs SmolLM2-135M-Instruct ({N_PROBES} built-in English probes, "
        "whole run incl. model loads)\n\n"
        "| engine | seconds | probes/s | base accuracy | SFT accuracy |\n|---|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\nvLLM takes **{seconds['vllm'] / seconds['hf']:.2f}×** the time of "
        f"transformers; verdicts equal on {same}/{len(verdicts['hf'])} probes.\n"
    )
