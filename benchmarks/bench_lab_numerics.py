"""Do the lab's weights depend on the machine? The `test` lab's base model trained under several kernel settings,
each in a fresh process, its weights hashed: unpinned at this CPU's best ATen level vs capped at AVX2 (what a
CPU without AVX-512 runs), and pinned (core/numerics.py: kernels capped at AVX2, 2 threads) under every setting.
Pinned builds must all be equal. The 1-thread row shows why the thread count is part of the pin."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from sftdebug.core.numerics import PINNED

# Trains only the base (the part every model inherits) and prints its weights' sha256 and the ATen level used.
CODE = """
import hashlib, sys, torch
from pathlib import Path
from sftdebug.core.progress import no_progress
from sftdebug.lab.build import SIZES, build_base
from sftdebug.lab.world import make_world
spec = SIZES["test"]
out = Path(sys.argv[1])
build_base(out, make_world(spec.n_people, 0), spec, 0, no_progress)
print(hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest(), torch.backends.cpu.get_cpu_capability())
"""

UNPINNED = {k: "" for k in PINNED}
SETTINGS: list[tuple[str, dict[str, str]]] = [
    ("unpinned, this CPU's best kernels, 2 threads", {**UNPINNED, "OMP_NUM_THREADS": "2"}),
    ("unpinned, ATen capped at AVX2 (a CPU without AVX-512)", {**UNPINNED, "ATEN_CPU_CAPABILITY": "avx2"}),
    ("pinned (kernels and 2 threads)", PINNED),
    # not the pin: `sftdebug lab build` in a process with other threads trains in a pinned child instead
    ("kernels pinned, 1 thread", {**PINNED, "OMP_NUM_THREADS": "1"}),
    ("pinned, MKL limited to AVX2 instructions", {**PINNED, "MKL_ENABLE_INSTRUCTIONS": "AVX2"}),
]


def build(env: dict[str, str]) -> tuple[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        full = {k: v for k, v in {**os.environ, **env}.items() if v != ""}
        proc = subprocess.run([sys.executable, "-c", CODE, tmp], capture_output=True, text=True, env=full, check=True)
        digest, capability = proc.stdout.split()[-2:]
        return digest, capability


def run() -> str:
    rows = [(name, *build(env)) for name, env in SETTINGS]
    pinned = {d for name, d, _ in rows if name.startswith("pinned")}
    lines = [
        "## Lab numerics: the same weights on every CPU\n",
        "| setting | ATen level | base weights sha256 |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {cap} | `{digest[:16]}` |" for name, digest, cap in rows]
    verdict = "identical" if len(pinned) == 1 else "DIFFERENT"
    lines += ["", f"Pinned builds: **{verdict}** ({len(pinned)} distinct hash(es)); unpinned builds at different "
              f"ATen levels: {'different' if rows[0][1] != rows[1][1] else 'equal'}.\n"]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
