"""The models of one comparison (a base and one or more SFT checkpoints), opened the cheapest way.

When every SFT checkpoint is a PEFT adapter trained on the run's base and the engine is transformers, the base is
loaded once and serves the base phase (adapters disabled) and each checkpoint's SFT phase (its adapter active):
a trend over N adapter checkpoints costs one load instead of N + 1. Otherwise each model is its own load, one at
a time, as before.

    models = ModelSet(EngineConfig(), "base", ["out/checkpoint-100", "out/checkpoint-200"])
    base = models.open_base(); sft = models.open_sft("out/checkpoint-100"); ...; models.close()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sftdebug.engines.base import Engine
from sftdebug.engines.config import EngineConfig


class ModelSet:
    def __init__(self, eng: EngineConfig, base: str, sfts: Sequence[str]) -> None:
        self._eng, self._base, self._sfts = eng, base, list(sfts)
        self._options = {side: eng.options(side) for side in ("base", "sft")}
        self.shared = eng.engine == "hf" and _adapters_on(base, self._sfts)
        self._host: Any = None  # the HFEngine owning the one loaded model (shared mode)
        self._names: dict[str, str] = {}  # adapter folder -> its PEFT adapter name in the host

    def open_base(self) -> Engine:
        if not self.shared:
            return self._load(self._base, "base")
        from transformers import AutoTokenizer

        from sftdebug.engines.source import resolve_model

        host = self._host_engine()
        folder = resolve_model(self._base)
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=self._eng.trust_remote_code)
        return host.view(self._base, tokenizer, None, str(folder))

    def open_sft(self, path: str) -> Engine:
        if not self.shared:
            return self._load(path, "sft")
        from transformers import AutoTokenizer

        from sftdebug.engines import adapter

        host = self._host_engine()
        found = adapter.adapter_of(path)
        if path not in self._names:
            name = self._names[path] = f"sft{len(self._names)}"
            host.unmerge()  # PEFT loads an adapter into unmerged weights only
            adapter.add_to(host.model, found, name)
        tokenizer = AutoTokenizer.from_pretrained(adapter.tokenizer_folder(found))
        return host.view(path, tokenizer, self._names[path], str(found.folder))

    def _load(self, model: str, side: str) -> Engine:
        from sftdebug.engines import load_engine

        return load_engine(self._eng.engine, model, **self._options[side])

    def _host_engine(self) -> Any:
        if self._host is None:
            from sftdebug.engines.hf import ADAPTER

            self._host = self._load(self._sfts[0], "sft")  # the base with the first adapter applied
            self._names[self._sfts[0]] = ADAPTER
        return self._host

    def close(self) -> None:
        if self._host is not None:
            self._host.close()
            self._host = None

    def __enter__(self) -> ModelSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _adapters_on(base: str, sfts: Sequence[str]) -> bool:
    """Every SFT checkpoint is an adapter whose base is the run's base folder."""
    from sftdebug.engines import adapter
    from sftdebug.engines.source import local_folder

    folder = local_folder(base)
    if folder is None or not sfts or not all(adapter.is_adapter(s) for s in sfts):
        return False
    return all(adapter.adapter_of(s).base.resolve() == folder.resolve() for s in sfts)
