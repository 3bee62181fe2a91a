"""Plots for reports (matplotlib, Agg), returned as base64 PNG data URIs to embed: no files, no network.

Plots draw what the run recorded (records and the summary's fit); they compute nothing new.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any


def figure(draw: Callable[[Any], None], width: float = 6.0, height: float = 3.6) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    try:
        draw(ax)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
