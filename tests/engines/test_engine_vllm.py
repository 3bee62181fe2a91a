"""Real vLLM (the CPU build here, CUDA elsewhere): the offline engine and a served OpenAI endpoint must give
the same greedy outputs as the transformers engine on the lab models."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import sftdebug

from sftdebug.engines import (
    Continued,
    GenerationRequest,
    SamplingParams,
    ScoreRequest,
    load_engine,
)
from sftdebug.engines.vllm import vllm_available

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("vllm"),  # one vLLM engine at a time on the machine (its threads take every core)
    pytest.mark.skipif(not vllm_available(), reason="vllm is not installed (make setup installs it on CPU machines)"),
]
N = 40


def _requests(probes: list[dict], chat: bool) -> list[GenerationRequest]:
    params = SamplingParams(max_new_tokens=16)
    if chat:
        return [GenerationRequest([{"role": "user", "content": p["question"][0]}], params) for p in probes[:N]]
    return [GenerationRequest(p["cloze"][0], params) for p in probes[:N]]


@pytest.mark.parametrize(("model", "chat"), [("base", False), ("sft-healthy", True)])
def test_offline_vllm_matches_transformers(
    lab: Path, engines: dict, probes: list[dict], model: str, chat: bool
) -> None:
    engine = load_engine("vllm", str(lab / model))
    try:
        reqs = _requests(probes, chat)
        got, want = engine.generate(reqs), engines[model].generate(reqs)
        assert [o[0].text for o in got] == [o[0].text for o in want]
        assert [o[0].finish_reason for o in got] == [o[0].finish_reason for o in want]
        for o in got:
            t = o[0].timing
            assert t is not None and 0 < t.ttft_s <= t.e2e_s
        if not chat:
            sreq = [ScoreRequest(p["cloze"][0], " " + p["answer"]) for p in probes[:8]]
            for a, b in zip(engine.score(sreq), engines[model].score(sreq), strict=True):
                assert a.logprob == pytest.approx(b.logprob, abs=1e-3)
    finally:
        engine.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _serve(model: Path, log: Path, *extra: str) -> Iterator[str]:
    """`python -m vllm.entrypoints.openai.api_server` serving `model` as "sft" on loopback (ready in ~45 s)."""
    port = _free_port()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
    cmd = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model), "--served-model-name",
        "sft", "--dtype", "float32", "--max-model-len", "256", "--enforce-eager", "--host", "127.0.0.1",
        "--port", str(port), *extra,
    ]  # fmt: skip
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 240
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vLLM server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=2):
                    break
            except OSError:
                if time.time() > deadline:
                    pytest.fail(f"vLLM server not ready after 240 s:\n{log.read_text()[-3000:]}")
                time.sleep(1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def served(lab: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """sft-healthy served by vLLM."""
    with _serve(lab / "sft-healthy", tmp_path_factory.mktemp("vllm") / "server.log") as url:
        yield url


@pytest.mark.parametrize("chat", [False, True])
def test_served_endpoint_matches_transformers(served: str, engines: dict, probes: list[dict], chat: bool) -> None:
    engine = load_engine("openai", "sft", endpoint=served, concurrency=4)
    reqs = _requests(probes, chat)
    got, want = engine.generate(reqs), engines["sft-healthy"].generate(reqs)
    assert not any(o[0].failed for o in got)
    assert [o[0].text for o in got] == [o[0].text for o in want]
    assert [o[0].completion_tokens for o in got] == [o[0].completion_tokens for o in want]
    assert [o[0].prompt_tokens for o in got] == [o[0].prompt_tokens for o in want]
    for o in got:
        t = o[0].timing
        assert t is not None and 0 < t.ttft_s <= t.e2e_s and list(t.token_times_s) == sorted(t.token_times_s)


def test_served_lora_module_answers_as_the_adapter_folder(
    lab: Path, probes: list[dict], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """An adapter served under its own name (`vllm serve --enable-lora --lora-modules sft-lora=DIR`, then
    `--engine openai --sft sft-lora`) answers as the adapter folder applied by PEFT. The CPU build's prompt
    log-probs fail with LoRA enabled (NaN for the base model, a server error for the adapter): never a number."""
    tmp = tmp_path_factory.mktemp("served-lora")
    folder = _plain_lora(lab / "sft-healthy", tmp / "sft-lora")
    lora_args = ("--enable-lora", "--max-lora-rank", "8", "--lora-modules", f"sft-lora={folder}")
    with _serve(lab / "sft-healthy", tmp / "server.log", *lora_args) as url:
        engine, local = load_engine("openai", "sft-lora", endpoint=url), load_engine("hf", str(folder))
        try:
            reqs = _requests(probes, chat=True)
            got, want = engine.generate(reqs), local.generate(reqs)
            scores = [ScoreRequest(p["cloze"][0], " " + p["answer"]) for p in probes[:6]]
            for served_score, own in zip(engine.score(scores), local.score(scores), strict=True):
                # the CPU build fails prompt log-probs with LoRA enabled: a failed score, never a wrong number
                assert served_score.error or served_score.logprob == pytest.approx(own.logprob, abs=1e-3)
        finally:
            local.close()
    assert not any(o[0].failed for o in got)
    same = sum(g[0].text == w[0].text for g, w in zip(got, want, strict=True))
    assert same >= N - 1, f"{same}/{N} answers as PEFT's"


def test_streaming_engine_times_every_token(lab: Path, engines: dict, probes: list[dict]) -> None:
    engine = load_engine("vllm", str(lab / "base"), streaming=True, prefix_caching=False)  # as latency loads it
    try:
        assert engine.llm.vllm_config.cache_config.enable_prefix_caching is False
        reqs = [
            GenerationRequest(p["cloze"][0], SamplingParams(max_new_tokens=12, ignore_eos=True)) for p in probes[:8]
        ]
        got, want = engine.generate(reqs), engines["base"].generate(reqs)
        assert [o[0].text for o in got] == [o[0].text for o in want]
        for o in got:
            t = o[0].timing
            assert t is not None and len(t.token_times_s) == o[0].completion_tokens == 12
            assert list(t.token_times_s) == sorted(t.token_times_s) and t.ttft_s > 0
    finally:
        engine.close()


def test_hallucination_verdicts_match_across_engines(lab: Path, tmp_path: Path) -> None:

    def verdicts(engine: str) -> dict[str, str]:
        out = tmp_path / engine
        proc = sftdebug(
            "hallucination",
            "--engine",
            engine,
            "--base",
            str(lab / "base"),
            "--sft",
            str(lab / "sft-conflict-lora"),  # a PEFT adapter: applied on the base by hf, merged for vLLM
            "--limit",
            "40",
            "--out",
            str(out),
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        ran_as = json.loads((out / "config.json").read_text())["adapters"][str(lab / "sft-conflict-lora")]["ran_as"]
        assert ran_as == {"vllm": "merged", "hf": "applied"}[engine]
        return {r["probe_id"]: r["verdict"] for r in map(json.loads, (out / "records.jsonl").open())}

    assert verdicts("vllm") == verdicts("hf")


def test_served_endpoint_scores_like_transformers(served: str, engines: dict, probes: list[dict]) -> None:
    engine = load_engine("openai", "sft", endpoint=served)
    reqs = [ScoreRequest(p["cloze"][0], " " + p["answer"]) for p in probes[:6]]
    for got, want in zip(engine.score(reqs), engines["sft-healthy"].score(reqs), strict=True):
        assert got.logprob == pytest.approx(want.logprob, abs=1e-3)


@pytest.mark.slow
def test_overfit_eval_runs_through_vllm(tiny_sweep: Path, tmp_path: Path) -> None:
    """`overfit eval --engine vllm` reaches the model through the engine interface only; greedy recall equals
    the HF engine's evaluation of the same checkpoint (done by the sweep)."""
    setting = tiny_sweep / "e25-lr0.003"
    argv = [
        "overfit",
        "eval",
        "--engine",
        "vllm",
        "--model",
        str(setting / "model"),
        "--facts",
        str(tiny_sweep / "facts"),
    ]
    proc = sftdebug(*argv, "--out", str(tmp_path / "ev"))
    assert proc.returncode == 0, proc.stderr
    via_vllm = json.loads((tmp_path / "ev" / "summary.json").read_text())
    via_hf = json.loads((setting / "summary.json").read_text())
    assert via_vllm["recall"] == via_hf["recall"]
    assert via_vllm["embeddings"]["moved"] == via_hf["embeddings"]["moved"] is True


def test_seeded_sampling_survives_chunked_prefill(lab: Path, probes: list[dict]) -> None:
    """Seeded samples over a batch too long for one prefill step (as `risk` asks): vLLM 0.32 on CPU crashed
    ("CPU Generator does not use offset") when a seeded request was prefilled in chunks."""
    text = " ".join(f"{p['cloze'][0]} {p['answer']}." for p in probes[:30])
    params = SamplingParams(max_new_tokens=8, temperature=0.5, n=3, seed=0)
    reqs = [GenerationRequest(f"{text[7 * i :][:600]} {p['cloze'][0]}", params) for i, p in enumerate(probes[:64])]
    engine = load_engine("vllm", str(lab / "base"))
    try:
        out = engine.generate(reqs)
    finally:
        engine.close()
    assert [len(o) for o in out] == [3] * len(reqs) and not any(c.failed for o in out for c in o)


def test_continued_answers_and_prefix_caching(lab: Path, engines: dict, probes: list[dict]) -> None:
    """With prefix caching on (the default outside latency sweeps), a cut answer continued from its token ids goes
    on as transformers' one longer greedy run does."""
    engine = load_engine("vllm", str(lab / "sft-undertrained"))
    try:
        assert engine.llm.llm_engine.vllm_config.cache_config.enable_prefix_caching is True
        asks = [[{"role": "user", "content": p["question"][0]}] for p in probes[:12]]
        short = engine.generate([GenerationRequest(q, SamplingParams(max_new_tokens=16)) for q in asks])
        cut = [(q, o[0]) for q, o in zip(asks, short, strict=True) if o[0].finish_reason == "length"]
        assert len(cut) >= 6
        more = engine.generate(
            [GenerationRequest(Continued(q, c.text, c.token_ids), SamplingParams(24)) for q, c in cut]
        )
        whole = engines["sft-undertrained"].generate([GenerationRequest(q, SamplingParams(40)) for q, _ in cut])
        for (_, c), m, w in zip(cut, more, whole, strict=True):
            assert c.token_ids + m[0].token_ids == w[0].token_ids
            assert m[0].finish_reason == w[0].finish_reason
    finally:
        engine.close()


def _plain_lora(model_folder: Path, out: Path) -> Path:
    """A LoRA of weights only (no added tokens) on a lab SFT model, with small random B matrices: it changes some
    answers, and vLLM can serve it as LoRA requests."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_folder)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "o_proj", "down_proj"])
    peft_model = get_peft_model(model, config)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, 0.05)
    peft_model.save_pretrained(out)
    AutoTokenizer.from_pretrained(model_folder).save_pretrained(out)
    return out


def test_plain_lora_runs_as_vllm_lora_requests(
    lab: Path, probes: list[dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GPU path (LoRA requests), forced on this CPU: generation only (the CPU build's LoRA prompt log-probs
    crash, which is why CPU runs adapters merged)."""
    from sftdebug.engines import adapter

    monkeypatch.setenv("SFTDEBUG_VLLM_LORA", "1")
    folder = _plain_lora(lab / "sft-conflict", tmp_path / "lora")
    requests = _requests(probes, chat=True)
    hf, plain = load_engine("hf", str(folder)), load_engine("hf", str(lab / "sft-conflict"))
    try:
        want = [c[0].text for c in hf.generate(requests)]
        before = [c[0].text for c in plain.generate(requests)]
    finally:
        hf.close()
        plain.close()
    engine = load_engine("vllm", str(folder))
    try:
        assert engine._lora is not None, "served as LoRA requests, not merged"
        got = [c[0].text for c in engine.generate(requests)]
    finally:
        engine.close()
    assert adapter.used()[str(folder)]["ran_as"] == "applied"
    assert want != before, "the adapter changes answers"
    assert sum(g == w for g, w in zip(got, want, strict=True)) >= N - 1, "vLLM's LoRA answers as PEFT's"


def test_engine_arguments_reach_vllm_and_config_json(lab: Path, tmp_path: Path) -> None:
    """--tensor-parallel-size, --max-model-len and any --vllm-arg go into vLLM's engine arguments (read back from
    the running engine's config) and into the run's config.json; the engine is torn down between two loads."""
    from sftdebug.engines.config import EngineConfig

    cfg = EngineConfig(engine="vllm", tensor_parallel_size=1, max_model_len=128, vllm_args={"max_num_seqs": 8})
    for _ in range(2):  # a second engine in the same process after close(): the first released everything
        engine = load_engine("vllm", str(lab / "base"), **cfg.options())
        try:
            config = engine.llm.llm_engine.vllm_config  # type: ignore[attr-defined]
            assert config.parallel_config.tensor_parallel_size == 1
            assert config.scheduler_config.max_num_seqs == 8
            assert config.model_config.max_model_len == 128  # below the lab model's own 256
            [[c]] = engine.generate([GenerationRequest("The", SamplingParams(max_new_tokens=2))])
            assert c.token_ids
        finally:
            engine.close()

    out = tmp_path / "gen"
    argv = ["--engine", "vllm", "--tensor-parallel-size", "1", "--vllm-arg", "max_num_seqs=8"]
    proc = sftdebug("generate", "--model", str(lab / "base"), "--prompt", "The", *argv, "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    args = json.loads((out / "config.json").read_text())["args"]
    assert args["tensor_parallel_size"] == 1 and args["vllm_args"] == {"max_num_seqs": 8}
