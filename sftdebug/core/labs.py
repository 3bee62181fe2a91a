"""Where things are in a lab folder (what `sftdebug lab build` writes), in one place. Pure: paths only.

The lab writes these folders; the diagnostics read them (a lab model's own probes, SFT data, reference texts and
risk calibration are their defaults), so the layout lives here, below both, and no diagnostic imports lab code.

DIR/lab.json  DIR/probes.jsonl  DIR/sft_data.jsonl  DIR/reference.txt  DIR/base/  DIR/sft-*/ (each with lab.json)
DIR/sft-conflict-checkpoints/checkpoint-STEP/  DIR/data/<model>.jsonl (each SFT model's data)

lab = LabLayout.of_model("reports/lab-demo/base")   # None when the model is not a lab model
lab.probes if lab else None
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MODEL_INFO = "lab.json"  # in the lab folder and in every model folder of it


@dataclass(frozen=True)
class LabLayout:
    root: Path

    @classmethod
    def of_model(cls, model: str | Path) -> LabLayout | None:
        """The lab a model folder belongs to, or None for any other model (a hub id, a user's checkpoint)."""
        path = Path(model)
        if (path / MODEL_INFO).is_file() and (path.parent / MODEL_INFO).is_file():
            return cls(path.parent)
        return None

    def model(self, name: str) -> Path:
        return self.root / name

    def data_of(self, name: str) -> Path:
        """The SFT data model `name` was trained on (messages JSONL)."""
        return self.root / "data" / f"{name}.jsonl"

    def checkpoints(self, name: str) -> Path:
        """Intermediate checkpoints of model `name` (checkpoint-STEP folders), where the lab keeps them."""
        return self.root / f"{name}-checkpoints"

    @property
    def info(self) -> Path:
        return self.root / MODEL_INFO

    @property
    def probes(self) -> Path:
        return self.root / "probes.jsonl"

    @property
    def sft_data(self) -> Path:
        return self.root / "sft_data.jsonl"

    @property
    def reference(self) -> Path:
        return self.root / "reference.txt"
