"""The lab: tiny model organisms trained here, with known answers and planted failures (`sftdebug lab build`),
and the demo that runs every diagnostic on them (`sftdebug demo`).

    world.py   pure: the synthetic world (people, facts, corpus, SFT conversations, probes)
    build.py   trains the base model and its SFT variants (with sftdebug/training/, sftdebug's own trainer)
    cli.py     `lab build`;  demo.py  `sftdebug demo`

Where things are in a lab folder is sftdebug/core/labs.py (LabLayout, re-exported here): diagnostics read it too.
"""

from __future__ import annotations

from sftdebug.core.labs import LabLayout
from sftdebug.lab.build import SIZES, VARIANTS, build_lab, lab_is_built

__all__ = ["SIZES", "VARIANTS", "LabLayout", "build_lab", "lab_is_built"]
