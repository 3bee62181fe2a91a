"""`sftdebug lab build`: train the model organisms (see lab/build.py)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    lab = sub.add_parser("lab", help="tiny model organisms trained here, with known answers")
    lab_sub = lab.add_subparsers(dest="lab_command", required=True, metavar="LAB_COMMAND")
    build = lab_sub.add_parser("build", help="train the base model and its SFT variants")
    build.add_argument(
        "--size",
        choices=["test", "demo", "real"],
        default="test",
        help="test: <1 min; demo: <5 min; real: Gemma-3-270m fine-tuned healthy and with planted conflicts, "
        "fully and as a LoRA adapter (needs make real; ~30 min on 2 cores)",
    )
    build.add_argument("--out", default=None, help="lab folder (default: reports/lab-<size>)")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--force", action="store_true", help="rebuild even if a complete lab is there")
    build.add_argument(
        "--no-calibration",
        dest="calibration",
        action="store_false",
        help="leave out the three risk calibration models and their runs (only risk's lab prediction needs them)",
    )
    build.add_argument(
        "--only",
        action="append",
        default=None,
        metavar="MODEL",
        help="--size real: build these variants only (repeatable), e.g. gemma-sft-conflict-lora",
    )
    build.set_defaults(run=run)
    real = lab_sub.add_parser(
        "real", help="convert the two real models shipped on PyPI (make real) and print their folders"
    )
    real.set_defaults(run=run_real)


def run(args: argparse.Namespace) -> int:
    if args.size == "real":
        return _build_real(args.out or os.path.join("reports", "lab-real"), args.only)
    out = args.out or os.path.join("reports", f"lab-{args.size}")
    ensure_lab(out, args.size, args.seed, args.force, args.calibration)
    return 0


def _build_real(out: str, only: list[str] | None) -> int:
    from sftdebug.engines.config import quiet_libraries
    from sftdebug.lab.real_sft import build_real
    from sftdebug.report import terminal as console
    from sftdebug.report.html import pct

    quiet_libraries()
    with console.progress_bars() as bar:
        info = build_real(out, progress=bar, only=only)
    rows = [
        [name, m["purpose"], len(m["planted"]["conflicts"]), m["train"]["steps"], f"{m['final_loss']:.3f}"]
        for name, m in info["models"].items()
    ]
    groups = info.get("known_groups", {})
    title = (
        f"real lab in {out}: Gemma-3-270m knew {info['n_known']} of {info['n_probes']} built-in English facts "
        f"({groups.get('zero_shot', 0)} zero-shot, {groups.get('few_shot_only', 0)} only with exemplars)"
    )
    console.table(title, ["model", "SFT answers", "planted conflicts", "steps", "final loss"], rows)
    ev = info["evaluation"]
    console.table(
        "sftdebug hallucination against the base (built-in English facts)",
        [
            "model",
            "narrow-hallucination rate [95% CI]",
            "planted flagged",
            "zero-shot known",
            "few-shot only",
            "SFT eos rate",
            "run",
        ],
        [
            [
                name,
                pct(e["narrow_hallucination_rate"], e["narrow_hallucination_ci95"]),
                _flagged(e),
                *(_flagged(e.get("planted_by_group", {}).get(g, {})) for g in ("zero_shot", "few_shot_only")),
                pct(e["sft_eos_rate"]),
                e["run"],
            ]
            for name, e in ev.items()
        ],
    )
    return 0


def _flagged(e: dict[str, Any]) -> str:
    n = e.get("n_planted")
    return f"{e['planted_flagged']} / {n}" if n else "—"


def run_real(args: argparse.Namespace) -> int:
    from sftdebug.engines.config import quiet_libraries
    from sftdebug.lab.real import REAL_MODELS, real_model
    from sftdebug.report import terminal as console

    quiet_libraries()
    rows = [[name, role, str(real_model(name))] for name, (role, _) in REAL_MODELS.items()]
    console.table("real models (converted GGUF, float32)", ["model", "role", "folder"], rows)
    return 0


def ensure_lab(out: str, size: str, seed: int = 0, force: bool = False, calibration: bool = True) -> dict[str, Any]:
    """Build the lab unless a complete one of this size is already in `out`; print what it holds."""
    from sftdebug.core import numerics

    numerics.pin()  # before anything loads torch, so the build runs in this process
    from sftdebug.core.labs import LabLayout
    from sftdebug.engines.config import quiet_libraries
    from sftdebug.lab.build import build_lab, lab_is_built
    from sftdebug.report import terminal as console

    if not force and lab_is_built(out, size, calibration):
        console.note(f"lab ({size}) already built in {out} (use --force to rebuild)")
        info: dict[str, Any] = json.loads(LabLayout(Path(out)).info.read_text(encoding="utf-8"))
    else:
        if force:  # nothing of the earlier build is reused
            LabLayout(Path(out)).info.unlink(missing_ok=True)
        quiet_libraries()
        with console.progress_bars() as bar:
            info = build_lab(out, size, seed, progress=bar, calibration=calibration)
    rows = [
        [
            name,
            m.get("purpose", "pretrained on the synthetic world"),
            m["train"]["steps"],
            m["train"]["lr"],
            m["final_loss"],
        ]
        for name, m in info["models"].items()
    ]
    console.table(
        f"lab ({size}) in {out}: {info['n_facts']} facts, built in {info['build_seconds']} s",
        ["model", "purpose", "steps", "lr", "final loss"],
        rows,
    )
    return info
