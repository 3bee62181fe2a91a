"""The lab: tiny model organisms trained here, with known answers and planted failures (`sftdebug lab build`),
and the demo that runs every diagnostic on them (`sftdebug demo`).

    world.py   pure: the synthetic world (people, facts, corpus, SFT conversations, probes)
    layout.py  pure: where things are in a lab folder
    train.py   sftdebug's own minimal trainer (torch): pretraining and SFT with loss masks
    build.py   trains the base model and its SFT variants
    cli.py     `lab build`;  demo.py  `sftdebug demo`
"""

from __future__ import annotations

from sftdebug.lab.build import SIZES, VARIANTS, build_lab, lab_is_built
from sftdebug.lab.layout import LabLayout

__all__ = ["SIZES", "VARIANTS", "LabLayout", "build_lab", "lab_is_built"]
