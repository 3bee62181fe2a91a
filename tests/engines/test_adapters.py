"""PEFT adapter folders as models: the lab's LoRA organism (sft-conflict-lora, planted conflicts) diagnosed through
its adapter folder gives the verdicts of the same adapter merged into a checkpoint, a trend over its adapter
checkpoints loads the base once, and config.json says what ran."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import bar, one_line_error, sftdebug


def _verdicts(run: Path) -> dict[str, tuple[str, str]]:
    return {r["probe_id"]: (r["verdict"], r["sft_text"]) for r in map(json.loads, (run / "records.jsonl").open())}


def _hallucination(lab: Path, sft: str | Path, out: Path, *extra: str) -> dict[str, tuple[str, str]]:
    proc = sftdebug("hallucination", "--base", str(lab / "base"), "--sft", str(sft), "--out", str(out), *extra)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return _verdicts(out)


@pytest.mark.slow
def test_adapter_verdicts_equal_the_merged_checkpoint(lab: Path, tmp_path: Path) -> None:
    adapter = lab / "sft-conflict-lora"
    applied = _hallucination(lab, adapter, tmp_path / "applied")
    merged = tmp_path / "merged"
    proc = sftdebug("convert", str(adapter), "--out", str(merged))
    assert proc.returncode == 0, proc.stderr
    assert (merged / "config.json").is_file() and not (merged / "adapter_config.json").exists()
    assert applied == _hallucination(lab, merged, tmp_path / "merged-run"), "every probe: same verdict and answer"
    # the planted truth: the adapter's contradicted facts are found as narrow hallucinations
    planted = json.loads((adapter / "lab.json").read_text())["planted"]["conflicts"]
    flagged = sum(applied[pid][0] == "narrow_hallucination" for pid in planted if pid in applied)
    bar("lora conflict recall", flagged / len(planted), ">=", 0.7)
    config = json.loads((tmp_path / "applied" / "config.json").read_text())
    facts = config["adapters"][str(adapter)]
    assert facts["ran_as"] == "applied" and facts["rank"] == 16 and facts["recorded_base"] == "../base"
    assert Path(facts["base"]) == (lab / "base").resolve() and "model.layers.0.self_attn.q_proj" in facts["targets"]


@pytest.mark.slow
def test_trend_over_adapter_checkpoints_loads_the_base_once(
    lab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers

    from sftdebug.hallucination import HallucinationConfig, run

    loads: list[str] = []
    original = transformers.AutoModelForCausalLM.from_pretrained

    def counted(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        loads.append(str(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", counted)
    ckpts = str(lab / "sft-conflict-lora-checkpoints" / "checkpoint-*")
    result = run(HallucinationConfig(base=str(lab / "base"), sft=ckpts, limit=60, out=str(tmp_path / "trend")))
    assert result.trend and len(result.summary["checkpoints"]) == 4
    assert loads == [str((lab / "base").resolve())], "one load of the base serves the base and all 4 adapters"
    last = sorted((tmp_path / "trend" / "checkpoints").iterdir())[-1]
    alone = _hallucination(lab, lab / "sft-conflict-lora", tmp_path / "alone", "--limit", "60")
    assert _verdicts(last) == alone, "the last checkpoint (the final adapter) as in a run of its own"


def _adapter_copy(lab: Path, tmp: Path, **config: object) -> Path:
    folder = tmp / "adapter"
    shutil.copytree(lab / "sft-conflict-lora", folder)
    path = folder / "adapter_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **config}))
    return folder


def test_base_other_than_recorded_is_said(lab: Path, tmp_path: Path) -> None:
    """The adapter records the lab base; --base names another model: the recorded one is used, and said."""
    adapter = _adapter_copy(lab, tmp_path, base_model_name_or_path=str(lab / "base"))
    proc = sftdebug(
        "hallucination", "--base", str(lab / "sft-healthy"), "--sft", str(adapter), "--limit", "3",
        "--out", str(tmp_path / "run"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"recorded base {str(lab / 'base')!r} used; it differs from --base" in proc.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["adapters"][str(adapter)]["base"] == str((lab / "base").resolve())


def test_hub_id_base_falls_back_to_the_run_base(lab: Path, tmp_path: Path) -> None:
    """A hub id that is not cached (what TRL records) runs on --base, with a note; without --base: one line."""
    adapter = _adapter_copy(lab, tmp_path, base_model_name_or_path="someorg/not-cached-base")
    proc = sftdebug("generate", "--model", str(adapter), "--prompt", "Hi", "--out", str(tmp_path / "gen"))
    one_line_error(proc, "not a local folder or cached hub id", "--adapter-base")
    assert not (tmp_path / "gen").exists()
    proc = sftdebug(
        "generate", "--model", str(adapter), "--adapter-base", str(lab / "base"), "--prompt", "Hi",
        "--max-new-tokens", "4", "--out", str(tmp_path / "gen"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--adapter-base" in proc.stderr
