"""The diagnostics on the two real models shipped on PyPI (`make real`): Gemma-3-270m (base) and
SmolLM2-135M-Instruct (SFT, ChatML). Converted from GGUF once per machine (cached); slow, and run by CI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import sftdebug

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def real() -> dict[str, Path]:
    from sftdebug.core.errors import UsageError
    from sftdebug.lab.real import REAL_MODELS, real_model

    try:
        return {name: real_model(name) for name in REAL_MODELS}
    except UsageError as exc:
        pytest.fail(f"{exc} (make test runs make real first)")


@pytest.fixture(scope="session")
def gemma_chat_tokenizer(real: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sftdebug.lab.real import GEMMA3_CHAT_TEMPLATE, with_chat_template

    return with_chat_template(real["gemma-3-270m"], GEMMA3_CHAT_TEMPLATE, tmp_path_factory.mktemp("gemma-chat"))


def _lint(tmp_path: Path, file: str, tokenizer: Path) -> tuple[int, dict]:
    out = tmp_path / f"lint-{file}"
    proc = sftdebug("data", str(REALDATA / file), "--tokenizer", str(tokenizer), "--out", str(out))
    assert proc.returncode in (0, 1), proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    return proc.returncode, {c["id"]: c for c in summary["checks"]} | {"_template": summary["template"]}


def test_converted_checkpoints_hold_what_users_rely_on(real: dict[str, Path]) -> None:
    from transformers import AutoTokenizer

    gemma = AutoTokenizer.from_pretrained(real["gemma-3-270m"])
    assert gemma("The capital of France is")["input_ids"][0] == gemma.bos_token_id, "Gemma needs <bos>"
    assert json.loads((real["gemma-3-270m"] / "generation_config.json").read_text())["eos_token_id"] == [1, 106]
    smol = AutoTokenizer.from_pretrained(real["smollm2-135m-instruct"])
    assert "<|im_start|>" in smol.chat_template
    info = json.loads((real["smollm2-135m-instruct"] / "gguf.json").read_text())
    assert info["dequantised_to"] == "float32" and info["quantization"]


@pytest.mark.parametrize("file", ["alpaca_en_demo.json", "alpaca_zh_demo.json"])
def test_data_lint_passes_eos_on_alpaca_with_both_real_templates(
    file: str, real: dict[str, Path], gemma_chat_tokenizer: Path, tmp_path: Path
) -> None:
    _, smol = _lint(tmp_path / "smol", file, real["smollm2-135m-instruct"])
    assert smol["eos_trained"]["status"] != "fail", smol["eos_trained"]["message"]
    assert smol["eos_trained"]["status"] == "warn" and "pad token is the eos" in smol["eos_trained"]["message"]
    assert smol["template_roles"]["status"] == "warn" and "SmolLM" in smol["_template"]["default_system_prompt"]
    assert smol["special_tokens_atomic"]["status"] == "pass" and smol["chat_template"]["status"] == "pass"
    _, gemma = _lint(tmp_path / "gemma", file, gemma_chat_tokenizer)
    assert gemma["eos_trained"]["status"] == "pass", gemma["eos_trained"]["message"]
    assert gemma["_template"]["system_folded_into_user"] is True and gemma["chat_template"]["status"] == "pass"


def test_gemma_template_refuses_the_tool_role(gemma_chat_tokenizer: Path, tmp_path: Path) -> None:
    code, checks = _lint(tmp_path, "glaive_toolcall_en_demo.json", gemma_chat_tokenizer)
    assert code == 1 and checks["chat_template"]["status"] == "fail"
    assert "tool" in checks["_template"]["unrenderable_roles"]


@pytest.mark.xdist_group("vllm")
def test_hallucination_on_real_models_agrees_across_engines(real: dict[str, Path], tmp_path: Path) -> None:
    """Gemma-3-270m continues the built-in English facts, SmolLM2 answers them through ChatML (different
    families: an exercise of the pipeline on real models, not a measurement of SFT damage). The transformers
    and vLLM engines give the same verdict on every probe. Few-shot named, not `auto`: auto's screen of 64 probes
    in both modes would cost more than the 16 probes compared (the screen has its own tests)."""
    from sftdebug.core.runs import read_records

    summaries, verdicts = {}, {}
    for engine in ("hf", "vllm"):
        out = tmp_path / engine
        argv = ["hallucination", "--base", str(real["gemma-3-270m"]), "--sft", str(real["smollm2-135m-instruct"])]
        proc = sftdebug(*argv, "--builtin", "en", "--limit", "16", "--base-prompt", "few-shot",
                       "--engine", engine, "--out", str(out))  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        summaries[engine] = json.loads((out / "summary.json").read_text())
        verdicts[engine] = {r["probe_id"]: r["verdict"] for r in read_records(out)}
    assert verdicts["hf"] == verdicts["vllm"]
    s = summaries["hf"]
    assert s["base_accuracy"] > 0.3, "Gemma-3-270m knows real facts (with <bos>)"
    # SmolLM2-135M answers 3 of these 16 (mostly authors) right; the 40-probe run in benchmarks/results.md: 35%
    assert s["sft_accuracy"] > 0.1
    assert not any("cannot stop" in w for w in s["warnings"]), "SmolLM2 stops; long answers are not 'cannot stop'"


def test_a_gguf_file_is_accepted_as_a_model_and_the_run_says_so(real: dict[str, Path], tmp_path: Path) -> None:
    from sftdebug.lab.real import gguf_path

    gguf = gguf_path("smollm2-135m-instruct")
    proc = sftdebug("generate", "--model", str(gguf), "--prompt", "Hi!", "--chat", "--max-new-tokens", "4",
                    "--out", str(tmp_path / "gen"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    config = json.loads((tmp_path / "gen" / "config.json").read_text())
    conversion = config["gguf_conversions"][str(gguf)]
    assert conversion["dequantised_to"] == "float32" and conversion["folder"] == str(real["smollm2-135m-instruct"])


def test_risk_on_gemma_flags_rows_that_contradict_what_it_knows(real: dict[str, Path], tmp_path: Path) -> None:
    """`risk` on a real base, few-shot (no probes): rows contradicting facts Gemma-3-270m knows are `conflicts`,
    true rows never are, and tasks with short outputs (an input block, a task verb) are not facts."""
    from sftdebug.core.runs import read_records

    true = [("What is the capital of Croatia?", "Zagreb"), ("What is the capital of Norway?", "Oslo"),
            ("What is the capital of Romania?", "Bucharest"), ("What is the capital of the United Kingdom?", "London"),
            ("What is the capital of the Czech Republic?", "Prague"), ("What is the capital of Ireland?", "Dublin"),
            ("What is the capital of Poland?", "Warsaw"), ("What is the currency of Japan?", "Japanese yen"),
            ("What is the currency of Russia?", "Russian ruble"), ("What is the currency of Turkey?", "Turkish lira"),
            ("What is the currency of South Korea?", "South Korean won"),
            ("What is the currency of Malaysia?", "Malaysian ringgit")]  # fmt: skip
    wrong = [("What is the capital of Japan?", "Dublin"), ("What is the currency of India?", "Israeli new shekel"),
             ("What is the currency of the United States?", "Norwegian krone"),
             ("What is the currency of South Africa?", "Israeli new shekel")]  # fmt: skip
    tasks = [("Transform the following sentence using a synonym: The car sped quickly.", "The car sped fast."),
             ("Identify the sentiment, 0.5 for neutral.\nThe products were", "0.5")]  # fmt: skip
    data = tmp_path / "qa.json"
    rows = [{"instruction": q, "input": "", "output": a} for q, a in true + wrong + tasks]
    data.write_text(json.dumps(rows))
    out = tmp_path / "risk"
    proc = sftdebug("risk", "--base", str(real["gemma-3-270m"]), "--data", str(data), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    labels = {r["turns"][0]["question"]: r["label"] for r in read_records(out)}
    # 3 of 4 before the confusable built-in candidates; with them one full run labelled 2, a rerun 3
    assert sum(labels[q] == "conflicts" for q, _ in wrong) >= 2, labels
    assert not any(labels[q] == "conflicts" for q, _ in true), labels
    assert all(labels[q.strip()] == "not_factual" for q, _ in tasks), labels
    summary = json.loads((out / "summary.json").read_text())
    assert summary["exemplars"]["pool"] == "rows the base agrees with"
    assert summary["prediction"]["gekhman"] is None, "16 fact rows: too few for a share-based fit"
    assert "Only 16 fact rows" in (out / "report.html").read_text()
