"""Pinned CPU numerics: the same lab weights on as many x86-64 CPUs of this project's kind as pinning reaches.

Training the lab is deterministic on one machine at a given thread count, but two CPUs can take different kernels:
torch's ATen picks AVX-512 code where the CPU has it, MKL and oneDNN dispatch on the CPU too, and their float
sums round differently, so a lab trained on an AVX-512 machine is a different lab (measured here: other base
weights, and a risk recall of 0.884 instead of 0.93). Capping all three at AVX2 makes every AVX2-or-better
machine run the same code paths. The thread count is pinned too: on an AVX-512 machine 1 and 2 threads trained
other weights (and so did torch.set_num_threads(2) over a default of 2: it also turns MKL's dynamic threading off),
so the lab trains at OMP_NUM_THREADS=2 from process start — the default of the 2-core machines every earlier lab was
trained on, whose weights this keeps. The variables are read when torch (and MKL/oneDNN) first load, so `pin()` must
run before `import torch`; `is_pinned()` says whether it did. It narrows, not removes, the machine's reach: an
AVX-512 + AMX Xeon trained other pinned weights than the machines before it (README, "The lab's numerics").
"""

from __future__ import annotations

import os
import platform
import sys

# MKL_CBWR=AVX2 is MKL's conditional numerical reproducibility at the AVX2 code path (COMPATIBLE also gives
# equal weights but trains 2x slower); ATEN_CPU_CAPABILITY and ONEDNN_MAX_CPU_ISA cap torch's own kernels.
PINNED = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2", "OMP_NUM_THREADS": "2"}


def applies() -> bool:
    """Only x86-64 has these dispatch levels; elsewhere there is nothing to pin."""
    return platform.machine().lower() in {"x86_64", "amd64"}


def pin() -> None:
    """Set the pinned numerics for this process and its children (call before torch is imported)."""
    if applies():
        os.environ.update(PINNED)


def pinned_env() -> dict[str, str]:
    """The environment of a child process that trains with pinned numerics."""
    return {**os.environ, **(PINNED if applies() else {})}


def is_pinned() -> bool:
    """True when this process trains with the pinned kernels: the variables are set and torch, if already
    loaded, runs at the pinned capability."""
    if not applies():
        return True
    if any(os.environ.get(k) != v for k, v in PINNED.items()):
        return False
    if "torch" not in sys.modules:
        return True
    import torch

    # a process that changed its threads since (an engine's --threads) trains otherwise
    return bool(
        torch.backends.cpu.get_cpu_capability() == "AVX2" and torch.get_num_threads() == int(PINNED["OMP_NUM_THREADS"])
    )


def describe() -> dict[str, str]:
    """What lab.json records about the numerics it was trained with."""
    info = {"machine": platform.machine(), **{k: os.environ.get(k, "") for k in PINNED}}
    if "torch" in sys.modules:
        import torch

        info["torch"] = torch.__version__
        info["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    return info
