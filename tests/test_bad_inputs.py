"""Every bad input gets exit 2, one stderr line naming what and where, and an untouched --out: a table of cases
across all commands (flags, files, models, endpoints, run folders)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from helpers import one_line_error, sftdebug

LATIN1 = b'{"id": "q1", "prompt": "caf\xe9"}\n'
DEEP = b"[" * 10000 + b"]" * 10000 + b"\n"


def _file(name: str, data: bytes | str) -> Callable[[Path, Path], str]:
    def make(tmp: Path, lab: Path) -> str:
        path = tmp / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return str(path)

    return make


def _model(kind: str) -> Callable[[Path, Path], str]:
    """A broken model folder: no config.json, pickled weights only, or the lab base (no chat template)."""

    def make(tmp: Path, lab: Path) -> str:
        if kind == "base":
            return str(lab / "base")
        folder = tmp / kind
        shutil.copytree(lab / "sft-healthy", folder)
        if kind == "no-config":
            (folder / "config.json").unlink()
        elif kind == "pickled":
            (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
        elif kind == "truncated":
            weights = folder / "model.safetensors"
            weights.write_bytes(weights.read_bytes()[:1000])
        return str(folder)

    return make


def _adapter(kind: str) -> Callable[[Path, Path], str]:
    """A broken PEFT adapter folder, made from the lab's LoRA organism: its recorded base gone, pickled weights
    only, or weights for another architecture / another hidden size."""

    def make(tmp: Path, lab: Path) -> str:
        from safetensors.numpy import save_file

        folder = tmp / f"adapter-{kind}"
        shutil.copytree(lab / "sft-conflict-lora", folder)
        config = folder / "adapter_config.json"
        base = "/no/base" if kind == "base-missing" else str(lab / "base")  # the lab records "../base"
        config.write_text(json.dumps({**json.loads(config.read_text()), "base_model_name_or_path": base}))
        if kind == "pickled":
            (folder / "adapter_model.safetensors").rename(folder / "adapter_model.bin")
        else:  # a LoRA pair for a module the base lacks, or with another input size
            module = "transformer.h.0.attn.c_attn" if kind == "other-arch" else "model.layers.0.self_attn.q_proj"
            a = np.zeros((4, 77), dtype=np.float32)
            b = np.zeros((96, 4), dtype=np.float32)
            save_file(
                {f"base_model.model.{module}.lora_A.weight": a, f"base_model.model.{module}.lora_B.weight": b},
                str(folder / "adapter_model.safetensors"),
            )
        return str(folder)

    return make


def _run_folder(kind: str) -> Callable[[Path, Path], str]:
    def make(tmp: Path, lab: Path) -> str:
        folder = tmp / "run"
        folder.mkdir()
        if kind == "corrupt-config":
            (folder / "config.json").write_text("{not json")
            (folder / "records.jsonl").write_text("")
        elif kind == "non-object-records":
            (folder / "config.json").write_text(json.dumps({"kind": "generate"}))
            (folder / "records.jsonl").write_text("[1, 2]\n")
            (folder / "summary.json").write_text(json.dumps({"kind": "generate"}))
        elif kind == "corrupt-summary":
            (folder / "config.json").write_text(json.dumps({"kind": "generate"}))
            (folder / "records.jsonl").write_text(json.dumps({"key": "a"}) + "\n")
            (folder / "summary.json").write_text("{")
        return str(folder)

    return make


def _out_file(tmp: Path, lab: Path) -> str:
    path = tmp / "taken"
    path.write_text("a user's file")
    return str(path)


HAL = ["hallucination", "--base", "{lab}/base", "--sft", "{lab}/sft-healthy"]
GEN = ["generate", "--model", "{lab}/sft-healthy"]
LAT = ["latency", "--model", "{lab}/base"]
DATA = ["data", "{lab}/sft_data.jsonl", "--tokenizer", "{lab}/sft-healthy"]
RISK = ["risk", "--base", "{lab}/base", "--data", "{lab}/sft_data.jsonl"]

# (id, argv with {lab}/{x} placeholders, what makes {x}, a phrase the one line must hold)
VGEN = ["generate", "--model", "{lab}/base", "--prompt", "x", "--engine", "vllm"]
CASES: list[tuple[str, list[str], Callable[[Path, Path], str] | None, str]] = [
    (
        "hal-base-missing",
        ["hallucination", "--base", "./no/such", "--sft", "{lab}/sft-healthy"],
        None,
        "does not exist",
    ),
    (
        "hal-sft-no-config",
        ["hallucination", "--base", "{lab}/base", "--sft", "{x}"],
        _model("no-config"),
        "config.json",
    ),
    ("hal-sft-pickled", ["hallucination", "--base", "{lab}/base", "--sft", "{x}"], _model("pickled"), "pickled"),
    ("hal-sft-no-template", ["hallucination", "--base", "{lab}/base", "--sft", "{x}"], _model("base"), "chat template"),
    ("hal-probes-missing", [*HAL, "--probes", "./nope.jsonl"], None, "no such file"),
    ("hal-probes-latin1", [*HAL, "--probes", "{x}"], _file("p.jsonl", LATIN1), "not UTF-8"),
    ("hal-probes-deep", [*HAL, "--probes", "{x}"], _file("p.jsonl", DEEP), "nested too deeply"),
    ("hal-probes-not-object", [*HAL, "--probes", "{x}"], _file("p.jsonl", "[1]\n"), "expected a JSON object"),
    ("hal-probes-no-cloze", [*HAL, "--probes", "{x}"], _file("p.jsonl", '{"id": "a", "question": "q?"}\n'), "cloze"),
    ("hal-probes-bad-json", [*HAL, "--probes", "{x}"], _file("p.jsonl", '{"id": \n'), "p.jsonl:1"),
    ("hal-limit", [*HAL, "--limit", "-1"], None, "--limit"),
    ("hal-samples", [*HAL, "--samples", "-1"], None, "--samples"),
    ("hal-temperature", [*HAL, "--temperature", "0"], None, "--temperature"),
    ("hal-gate", [*HAL, "--fail-above", "narrow=abc"], None, "METRIC=NUMBER"),
    ("hal-batch", [*HAL, "--batch-size", "0"], None, "--batch-size"),
    ("hal-threads", [*HAL, "--threads", "0"], None, "--threads"),
    ("hal-ftp", [*HAL, "--engine", "openai", "--endpoint", "ftp://host"], None, "http"),
    ("hal-no-host", [*HAL, "--engine", "openai", "--endpoint", "http://"], None, "with a host"),
    ("hal-out-is-file", [*HAL, "--out", "{x}"], _out_file, "is a file"),
    ("hal-bad-engine", [*HAL, "--engine", "tgi"], None, "--engine"),
    ("gen-model-missing", ["generate", "--model", "./no/such", "--prompt", "x"], None, "does not exist"),
    ("gen-truncated-weights", ["generate", "--model", "{x}", "--prompt", "x"], _model("truncated"), "cannot be loaded"),
    ("gen-prompts-latin1", [*GEN, "--prompts", "{x}"], _file("q.jsonl", LATIN1), "q.jsonl:1: not UTF-8"),
    ("gen-prompts-no-prompt", [*GEN, "--prompts", "{x}"], _file("q.jsonl", '{"id": 1}\n'), "needs a non-empty"),
    ("gen-prompts-dup", [*GEN, "--prompts", "{x}"], _file("q.jsonl", '{"id": 1, "prompt": "a"}\n' * 2), "duplicate"),
    ("gen-n", [*GEN, "--prompt", "x", "--n", "0"], None, "n must be"),
    ("gen-top-p", [*GEN, "--prompt", "x", "--top-p", "0"], None, "top_p"),
    ("lat-repeats", [*LAT, "--repeats", "0"], None, "--repeats"),
    ("lat-cot", [*LAT, "--cot", "-1"], None, "--cot"),
    ("lat-prompt-lens", [*LAT, "--prompt-lens", "0"], None, "--prompt-lens"),
    ("lat-too-long", [*LAT, "--prompt-lens", "1024"], None, "positions"),
    ("lat-baseline-missing", [*LAT, "--baseline", "./no/such/run"], None, "not a run folder"),
    ("lat-baseline-kind", [*LAT, "--baseline", "{x}"], _run_folder("non-object-records"), "not a latency run"),
    ("data-missing", ["data", "./nope.json", "--tokenizer", "{lab}/sft-healthy"], None, "no such file"),
    ("data-latin1", ["data", "{x}", "--tokenizer", "{lab}/sft-healthy"], _file("d.jsonl", LATIN1), "not UTF-8"),
    ("data-array-torn", ["data", "{x}", "--tokenizer", "{lab}/sft-healthy"], _file("d.json", '[{"a": 1},'), "d.json:1"),
    ("data-deep", ["data", "{x}", "--tokenizer", "{lab}/sft-healthy"], _file("d.json", DEEP), "nested too deeply"),
    ("data-no-rows", ["data", "{x}", "--tokenizer", "{lab}/sft-healthy"], _file("d.jsonl", '{"x": 1}\n'), "format"),
    ("data-max-len", [*DATA, "--max-len", "0"], None, "--max-len"),
    ("data-bad-share", [*DATA, "--max-bad-rows", "2"], None, "--max-bad-rows"),
    ("data-tokenizer-missing", ["data", "{lab}/sft_data.jsonl", "--tokenizer", "./nope"], None, "does not exist"),
    ("overfit-make-n", ["overfit", "make", "--n-facts", "1", "--out", "{tmp}/facts"], None, "--n-facts"),
    ("overfit-run-n", ["overfit", "run", "--base", "{lab}/base", "--n-facts", "-5"], None, "--n-facts"),
    ("overfit-run-batch", ["overfit", "run", "--base", "{lab}/base", "--batch-size", "0"], None, "--batch-size"),
    ("overfit-eval-facts", ["overfit", "eval", "--model", "{lab}/sft-healthy", "--facts", "./nope"], None, "fact set"),
    ("report-missing", ["report", "./no/such/run"], None, "not a run folder"),
    ("report-corrupt-config", ["report", "{x}"], _run_folder("corrupt-config"), "not valid JSON"),
    ("report-not-records", ["report", "{x}"], _run_folder("non-object-records"), "not a record"),
    ("report-corrupt-summary", ["report", "{x}"], _run_folder("corrupt-summary"), "summary.json"),
    (
        "resume-corrupt-config",
        [*GEN, "--prompt", "x", "--resume", "--out", "{x}"],
        _run_folder("corrupt-config"),
        "config.json",
    ),
    ("hal-trend-pattern", ["hallucination", "--base", "{lab}/base", "--sft", "{lab}/nope-*"], None, "matches no"),
    ("hal-trend-twice", [*HAL, "--sft", "{lab}/sft-healthy"], None, "more than once"),
    ("hal-trend-no-template", [*HAL, "--sft", "{lab}/base"], None, "chat template"),
    ("risk-data-missing", ["risk", "--base", "{lab}/base", "--data", "./nope.jsonl"], None, "no such file"),
    ("risk-data-latin1", ["risk", "--base", "{lab}/base", "--data", "{x}"], _file("d.jsonl", LATIN1), "not UTF-8"),
    ("risk-drop", [*RISK, "--drop", "everything"], None, "--drop"),
    ("risk-shots", [*RISK, "--shots", "0"], None, "--shots"),
    ("risk-samples", [*RISK, "--samples", "-1"], None, "--samples"),
    ("risk-calibration", [*RISK, "--calibration", "./nope"], None, "not a lab folder"),
    ("risk-overwrite-input", [*RISK, "--write-filtered", "{lab}/sft_data.jsonl"], None, "overwrite the input"),
    ("risk-base-missing", ["risk", "--base", "./no/such", "--data", "{lab}/sft_data.jsonl"], None, "does not exist"),
    ("compare-missing", ["compare", "./no/such", "./no/such"], None, "not a run folder"),
    ("compare-kind", ["compare", "{x}", "{x}"], _run_folder("non-object-records"), "not a hallucination run"),
    ("compare-gate", ["compare", "./a", "./b", "--fail-above", "narrow=1"], None, "not a gated metric"),
    ("hal-shard", [*HAL, "--shard", "3/2"], None, "--shard"),
    ("gen-shard", [*GEN, "--prompt", "x", "--shard", "0/0"], None, "--shard"),
    ("risk-shard", [*RISK, "--shard=-1/2"], None, "--shard"),
    ("merge-missing", ["merge", "./no/such", "--out", "{tmp}/out"], None, "not a run folder"),
    ("convert-not-gguf", ["convert", "{x}"], _file("m.bin", "x"), "not a .gguf"),
    ("adapter-base-missing", [*GEN[:1], "--model", "{x}", "--prompt", "x"], _adapter("base-missing"), "/no/base"),
    ("adapter-pickled", ["hallucination", "--base", "{lab}/base", "--sft", "{x}"], _adapter("pickled"), "pickled"),
    (
        "adapter-other-arch",
        ["hallucination", "--base", "{lab}/base", "--sft", "{x}"],
        _adapter("other-arch"),
        "no module",
    ),
    ("adapter-other-size", ["latency", "--model", "{x}"], _adapter("other-size"), "another model size"),
    (
        "adapter-vllm-other-size",
        ["generate", "--engine", "vllm", "--model", "{x}", "--prompt", "x"],
        _adapter("other-size"),
        "does not fit",
    ),
    ("vllm-arg-no-value", [*VGEN, "--vllm-arg", "max_num_seqs"], None, "KEY=VALUE"),
    ("vllm-tp-zero", [*VGEN, "--tensor-parallel-size", "0"], None, "--tensor-parallel-size must be >= 1"),
    ("vllm-dp-negative", [*VGEN, "--data-parallel-size", "-2"], None, "--data-parallel-size must be >= 1"),
    ("vllm-memory-share", [*VGEN, "--gpu-memory-utilization", "1.5"], None, "(0, 1]"),
    ("vllm-arg-on-hf", [*VGEN[:5], "--tensor-parallel-size", "2"], None, "need --engine vllm"),
    ("device-map-on-vllm", [*VGEN, "--device-map", "auto"], None, "--device-map needs --engine hf"),
    ("convert-missing", ["convert", "./nope.gguf"], None, "no such file"),
    ("demo-realdata", ["demo", "--realdata", "./no/such/dir"], None, "no such folder"),
]


@pytest.mark.slow  # asks vLLM itself (its import takes seconds): outside the fast tier
def test_unknown_vllm_engine_argument_is_refused_with_vllms_message(lab: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = sftdebug(*[a.format(lab=lab) for a in VGEN], "--vllm-arg", "no_such_option=1", "--out", str(out))
    one_line_error(proc, "--vllm-arg no_such_option", "unexpected keyword argument")
    assert not out.exists()


@pytest.mark.parametrize("argv,make,needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(
    argv: list[str], make: Callable[[Path, Path], str] | None, needle: str, lab: Path, tmp_path: Path
) -> None:
    x = make(tmp_path, lab) if make else ""
    before = sorted(p.name for p in tmp_path.iterdir())
    out = tmp_path / "out"
    args = [a.format(lab=lab, x=x, tmp=tmp_path) for a in argv]
    if "--out" not in args and argv[0] in ("hallucination", "generate", "latency", "data", "overfit", "risk"):
        args += ["--out", str(out)]
    first = sftdebug(*args)
    one_line_error(first, needle)
    assert not out.exists(), "nothing is written on bad input"
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "no file appears beside the inputs"
    if str(out) in args:  # the same answer when the (empty) run folder already exists, and it stays empty
        out.mkdir()
        again = sftdebug(*args)
        assert (again.returncode, again.stderr) == (first.returncode, first.stderr)
        assert not any(out.iterdir()), "nothing is written into an existing folder on bad input"


# --- the same contract without the lab: an endpoint (the stub server) and small broken files made here ---------

SECRET = "sk-secret-4242"
QA = '{"messages": [{"role": "user", "content": "Where does Ros live?"}, {"role": "assistant", "content": "Kestra"}]}\n'


def _weights(kind: str) -> Callable[[Path, Path], str]:
    """A checkpoint folder whose safetensors file is cut short, or whose config asks for its own code."""

    def make(tmp: Path, url: Path) -> str:
        from safetensors.numpy import save_file

        folder = tmp / kind
        folder.mkdir()
        config: dict = {"model_type": "llama"}
        if kind == "remote-code":
            config = {"model_type": "mything", "auto_map": {"AutoModelForCausalLM": "modeling_mything.M"}}
        (folder / "config.json").write_text(json.dumps(config))
        import numpy as np

        save_file({"w": np.zeros((64, 64), dtype=np.float32)}, str(folder / "model.safetensors"))
        if kind == "truncated":
            weights = folder / "model.safetensors"
            weights.write_bytes(weights.read_bytes()[:2000])
        return str(folder)

    return make


EP = ["--engine", "openai", "--endpoint", "{url}"]
SGEN = ["generate", "--model", "stub", "--prompt", "x", *EP]
SHAL = ["hallucination", "--base", "stub", "--sft", "stub", "--builtin", "en", "--limit", "3", *EP]
SLAT = ["latency", "--model", "stub", "--prompt-lens", "4", "--output-lens", "1", "--repeats", "1", *EP]
SRISK = ["risk", "--base", "stub", "--data", "{x}", *EP]
STUB_CASES: list[tuple[str, list[str], Callable[[Path, Path], str] | None, str]] = [
    ("key-abbreviated", [*SGEN, "--api", SECRET], None, "unrecognized arguments: --api ***"),
    ("key-abbreviated-eq", [*SGEN, f"--api={SECRET}"], None, "unrecognized arguments: --api=***"),
    ("key-prefix", [*SGEN, "--api-k", SECRET], None, "unrecognized arguments"),
    (
        "key-in-url",
        [
            "generate",
            "--model",
            "stub",
            "--prompt",
            "x",
            "--engine",
            "openai",
            "--endpoint",
            f"http://user:{SECRET}@127.0.0.1:9",
        ],
        None,
        "credentials",
    ),
    (
        "key-in-query",
        ["generate", "--model", "stub", "--prompt", "x", "--engine", "openai", "--endpoint", "{url}?api_key=" + SECRET],
        None,
        "credentials",
    ),
    ("replicas-bad-url", [*SGEN, "--endpoint", "ftp://127.0.0.1:9"], None, "expected an http://"),
    (
        "replicas-key-in-url",
        [*SHAL, "--sft-endpoint", "{url}", "--sft-endpoint", f"http://u:{SECRET}@h"],
        None,
        "credentials",
    ),
    ("replicas-twice", [*SGEN, "--endpoint", "{url}/v1"], None, "given twice"),
    ("hal-gate-unknown", [*SHAL, "--fail-above", "nosuch=0.1"], None, "not a gated metric"),
    ("hal-gate-share", [*SHAL, "--fail-above", "narrow_hallucination_rate=2"], None, "share"),
    ("hal-gate-nan", [*SHAL, "--fail-above", "sft_accuracy=nan"], None, "METRIC=NUMBER"),
    ("hal-gate-negative-count", [*SHAL, "--fail-above", "n_failed=-1"], None, "count"),
    ("risk-gate-unknown", [*SRISK, "--fail-above", "conflicts=0.1"], _file("d.jsonl", QA), "not a gated metric"),
    ("lat-gate-unknown", [*SLAT, "--fail-above", "ttft=1"], None, "not a gated metric"),
    ("lat-regression-no-baseline", [*SLAT, "--fail-above", "regression=0.1"], None, "--baseline"),
    ("lat-concurrency-zero", [*SLAT, "--concurrency", "0"], None, "--concurrency: expected positive integers"),
    ("lat-concurrency-text", [*SLAT, "--concurrency", "4,x"], None, "--concurrency: expected comma-separated"),
    ("lat-price-negative", [*SLAT, "--price-per-hour", "-1"], None, "--price-per-hour: expected a positive"),
    ("lat-load-on-hf", ["latency", "--model", "stub", "--concurrency", "1,4"], None, "--engine vllm or openai"),
    ("hal-sft-not-served", [*SHAL[:4], "nosuchmodel", *SHAL[5:]], None, "not served"),
    ("hal-base-not-served", [*SHAL[:2], "nosuchmodel", *SHAL[3:]], None, "not served"),
    (
        "risk-truncated-weights",
        ["risk", "--base", "{x}", "--data", "{x}/../d.jsonl"],
        _weights("truncated"),
        "truncated",
    ),
    ("hal-truncated-weights", ["hallucination", "--base", "{x}", "--sft", "{x}"], _weights("truncated"), "truncated"),
    (
        "risk-remote-code",
        ["risk", "--base", "{x}", "--data", "{x}/../d.jsonl"],
        _weights("remote-code"),
        "--trust-remote-code",
    ),
    ("gen-text-as-gguf", ["generate", "--model", "{x}", "--prompt", "x"], _file("m.gguf", "hello\n"), "not a GGUF"),
    ("convert-text-as-gguf", ["convert", "{x}"], _file("m.gguf", "<html>rate limited</html>"), "not a GGUF"),
]


@pytest.mark.parametrize("argv,make,needle", [c[1:] for c in STUB_CASES], ids=[c[0] for c in STUB_CASES])
def test_bad_input_without_lab(
    argv: list[str], make: Callable[[Path, Path], str] | None, needle: str, tmp_path: Path, monkeypatch
) -> None:
    """Checks that once came after the work (or not at all): each is one line, exit 2, nothing written, no key
    quoted, no half-converted GGUF left in the cache."""
    from stub_openai import StubServer

    monkeypatch.setenv("SFTDEBUG_CACHE", str(tmp_path / "cache"))
    (tmp_path / "d.jsonl").write_text(QA)
    x = make(tmp_path, tmp_path) if make else ""
    before = sorted(p.name for p in tmp_path.iterdir())
    out = tmp_path / "out"
    with StubServer(model="stub") as stub:
        args = [a.format(url=stub.url, x=x) for a in argv]
        if argv[0] != "convert":
            args += ["--out", str(out)]
        first = sftdebug(*args)
        one_line_error(first, needle)
        assert SECRET not in first.stderr
        assert not out.exists(), "nothing is written on bad input"
        assert sorted(p.name for p in tmp_path.iterdir()) == before, "no file appears beside the inputs"
        if argv[0] != "convert":
            out.mkdir()
            again = sftdebug(*args)
            assert (again.returncode, again.stderr) == (first.returncode, first.stderr)
            assert not any(out.iterdir()), "nothing is written into an existing folder on bad input"
        assert not stub.requests, "no work was done before the check"
