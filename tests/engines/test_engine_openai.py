"""The OpenAI-compatible endpoint engine against a stub server: streaming, usage, retries, clear errors."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from helpers import sftdebug
from stub_openai import StubServer

from sftdebug.core.errors import EngineError, UsageError
from sftdebug.core.loop import NO_RETRY, RetryPolicy
from sftdebug.core.runs import RunFolder
from sftdebug.engines import GenerationRequest, SamplingParams, ScoreRequest
from sftdebug.engines.openai import OpenAIEngine, ScoringUnsupported
from sftdebug.generate.phases import run_generate
from sftdebug.generate.prompts import PromptItem

CHAT = [{"role": "user", "content": "Where does Ros Mukin live?"}]


@pytest.fixture()
def stub():
    with StubServer(model="stub", answer_tokens=5) as s:
        yield s


def _engine(stub: StubServer, **kw) -> OpenAIEngine:
    return OpenAIEngine("stub", endpoint=stub.url, backoff=0.01, **kw)


def test_raw_and_chat_stream_with_usage_and_timing(stub: StubServer) -> None:
    e = _engine(stub)
    [[raw]], [[chat]] = e.generate([GenerationRequest("one two three")]), e.generate([GenerationRequest(CHAT)])
    assert raw.text == " tok0 tok1 tok2 tok3 tok4" and raw.finish_reason == "stop" and raw.stop_reason == "eos"
    assert raw.prompt_tokens == 3 and raw.completion_tokens == 5
    assert chat.text == raw.text and chat.prompt_tokens == 5
    assert [r["path"] for r in stub.requests] == ["/v1/completions", "/v1/chat/completions"]
    assert stub.requests[0]["stream"] is True and stub.requests[0]["stream_options"] == {"include_usage": True}
    t = raw.timing
    assert t is not None and len(t.token_times_s) == 5 and t.ttft_s == t.token_times_s[0] <= t.e2e_s
    [[long]] = e.generate([GenerationRequest("x", SamplingParams(max_new_tokens=8, ignore_eos=True))])
    assert long.completion_tokens == 8 and long.finish_reason == "length"
    assert stub.requests[-1]["ignore_eos"] is True


@pytest.mark.parametrize("faults", [["500"], ["429", "503"], ["drop"], ["drop", "500", "429"]])
def test_transient_failures_are_retried(stub: StubServer, faults: list[str]) -> None:
    stub.faults.extend(faults)
    [[c]] = _engine(stub).generate([GenerationRequest("a b")])
    assert not c.failed and c.text.endswith("tok4")
    assert len(stub.requests) == len(faults) + 1


def test_malformed_event_and_retry_after_are_retried(stub: StubServer) -> None:
    import time

    stub.faults.extend(["malformed", "429-retry-after"])
    t0 = time.perf_counter()
    [[c]] = _engine(stub).generate([GenerationRequest("a b")])
    assert not c.failed and c.text == " tok0 tok1 tok2 tok3 tok4", "the garbled answer was asked for again, whole"
    assert len(stub.requests) == 3
    assert time.perf_counter() - t0 >= 1.0, "the server's Retry-After: 1 was waited for (backoff alone is 0.01 s)"


def test_an_error_body_quoting_the_key_is_redacted(stub: StubServer, tmp_path: Path) -> None:
    stub.faults.extend(["echo-auth"] * 4)
    e = _engine(stub, api_key="sk-secret-123")
    with RunFolder.open(tmp_path, "generate", {}) as run:
        run_generate(e, [PromptItem("q", "a b")], SamplingParams(), run)
    text = "".join(p.read_text() for p in tmp_path.iterdir() if p.is_file())
    assert "upstream refused" in text and "Bearer ***" in text
    assert "sk-secret-123" not in text


def test_timeout_is_retried(stub: StubServer) -> None:
    stub.faults.append("hang")
    [[c]] = _engine(stub, timeout=0.5).generate([GenerationRequest("a")])
    assert not c.failed


def test_failure_after_retries_is_recorded_and_resumed(stub: StubServer, tmp_path: Path) -> None:
    e = _engine(stub, retries=2, concurrency=1)
    items = [PromptItem(str(i), f"prompt {i}") for i in range(4)]
    stub.faults.extend(["500"] * 3)  # the first prompt exhausts its 3 attempts
    with RunFolder.open(tmp_path, "generate", {"model": "stub"}, retry=NO_RETRY) as run:
        summary = run_generate(e, items, SamplingParams(max_new_tokens=4), run)
    assert summary["n_failed"] == 1 and summary["n_prompts"] == 3
    lines = [json.loads(x) for x in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert [r.get("status") for r in lines].count("failed") == 1
    assert "HTTP 500" in next(r["error"] for r in lines if r.get("status") == "failed")
    with RunFolder.open(tmp_path, "generate", {"model": "stub"}, resume=True) as run:
        summary = run_generate(e, items, SamplingParams(max_new_tokens=4), run)
    assert summary["n_failed"] == 0 and summary["n_prompts"] == 4
    assert len(stub.requests) == 3 + 3 + 1, "only the failed prompt is sent again"


def test_the_run_retries_its_failed_items_itself(stub: StubServer, tmp_path: Path) -> None:
    """A prompt that fails all its attempts is worked on again in a retry round, after a pause, without --resume;
    the summary says it needed retries."""
    import time

    e = _engine(stub, retries=2, concurrency=1)
    items = [PromptItem(str(i), f"prompt {i}") for i in range(4)]
    stub.faults.extend(["500"] * 3)  # the first prompt exhausts its 3 attempts in the first pass
    t0 = time.perf_counter()
    with RunFolder.open(tmp_path, "generate", {}, retry=RetryPolicy(rounds=2, backoff_s=0.2)) as run:
        summary = run_generate(e, items, SamplingParams(max_new_tokens=4), run)
    assert summary["n_failed"] == 0 and summary["n_prompts"] == 4 and summary["n_retried"] == 1
    assert len(stub.requests) == 3 + 3 + 1, "only the failed prompt is sent again, once: it then succeeded"
    assert time.perf_counter() - t0 >= 0.2, "the round paused first"


@pytest.mark.slow
def test_a_heavy_fault_mix_finishes_without_resume(tmp_path: Path) -> None:
    """The issue's mix (20% 500, 10% 429, 10% drops, 5% hangs past --timeout): 60 prompts finish in one run at
    default settings, and the summary counts the prompts that needed retries."""
    mix = {"500": 0.2, "429": 0.1, "drop": 0.1, "hang": 0.05}
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps({"id": i, "prompt": f"question {i}"}) + "\n" for i in range(60)))
    with StubServer(model="stub", fault_mix=mix, seed=3) as stub:
        proc = sftdebug("generate", "--engine", "openai", "--endpoint", stub.url, "--model", "stub", "--prompts",
                        str(prompts), "--timeout", "1", "--out", str(tmp_path / "run"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n_failed"] == 0 and summary["n_prompts"] == 60 and summary["n_retried"] > 0
    assert "needed retries" in proc.stderr + proc.stdout


def test_unreachable_endpoint_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(EngineError, match=rf"cannot reach http://127.0.0.1:{port}.*server running"):
        OpenAIEngine("stub", endpoint=f"http://127.0.0.1:{port}")


def test_wrong_model_name_and_bad_key(stub: StubServer) -> None:
    with pytest.raises(UsageError, match=r"model 'other' is not served by .* \(served: stub\)"):
        OpenAIEngine("other", endpoint=stub.url)
    stub.api_key = "sk-right"
    with pytest.raises(UsageError, match="refused the API key"):
        OpenAIEngine("stub", endpoint=stub.url, api_key="sk-wrong")
    assert (
        not OpenAIEngine("stub", endpoint=stub.url, api_key="sk-right").generate([GenerationRequest("a")])[0][0].failed
    )


def test_scoring_unsupported_is_said(stub: StubServer) -> None:
    with pytest.raises(ScoringUnsupported, match="prompt log-probs"):
        _engine(stub).score([ScoreRequest("The capital of Japan is", " Tokyo")])


@pytest.mark.parametrize("spelling", [["--api-key", "sk-secret-123"], ["--api-key=sk-secret-123"]])
def test_cli_with_endpoint_keeps_the_key_out_of_the_run_folder(
    stub: StubServer, tmp_path: Path, spelling: list[str]
) -> None:
    stub.api_key = "sk-secret-123"
    proc = sftdebug(
        "generate",
        "--engine",
        "openai",
        "--endpoint",
        stub.url,
        "--model",
        "stub",
        *spelling,
        "--prompt",
        "hello there",
        "--out",
        str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    for f in tmp_path.iterdir():
        assert "sk-secret-123" not in f.read_text(), f.name
    assert "--api-key" in json.loads((tmp_path / "config.json").read_text())["command"]
    assert json.loads((tmp_path / "records.jsonl").read_text())["text"].endswith("tok4")


@pytest.mark.slow
def test_hallucination_survives_a_faulty_endpoint(tmp_path: Path) -> None:
    """20% 5xx, 10% 429, 10% dropped streams, 5% hangs past the timeout, 5% malformed events, 8 requests in
    flight, candidates ranked through echo + logprobs (the faults hit those requests too): the run ends with every
    probe done or recorded failed, at most two --resume runs finish it, and verdicts and ranks equal a fault-free
    run's."""
    from sftdebug.core.runs import read_records

    argv = [
        "hallucination",
        "--engine",
        "openai",
        "--base",
        "stub",
        "--sft",
        "stub",
        "--builtin",
        "en",
        "--limit",
        "30",
    ]
    clean = tmp_path / "clean"
    with StubServer(model="stub", scoring=True) as stub:
        assert sftdebug(*argv, "--endpoint", stub.url, "--out", str(clean)).returncode == 0
    mix = {"500": 0.1, "503": 0.1, "429": 0.1, "drop": 0.1, "hang": 0.05, "malformed": 0.05}
    faulty = tmp_path / "faulty"
    with StubServer(model="stub", fault_mix=mix, seed=1, scoring=True) as stub:
        run = [*argv, "--endpoint", stub.url, "--concurrency", "8", "--timeout", "1", "--out", str(faulty)]
        codes = [sftdebug(*run).returncode]
        while codes[-1] == 1 and len(codes) < 3:
            codes.append(sftdebug(*run, "--resume").returncode)
    assert codes[-1] == 0 and set(codes) <= {0, 1}, codes
    summary = json.loads((faulty / "summary.json").read_text())
    assert summary["n_failed"] == 0 and summary["n_probes"] == 30
    # the base's candidates are ranked over HTTP; the SFT side's chat prompts need --tokenizer to be scored, and say so
    assert not any(w.startswith("candidate ranking skipped") for w in summary["warnings"])
    assert any(w.startswith("SFT candidate ranking skipped") and "--tokenizer" in w for w in summary["warnings"])
    verdicts = lambda d: {r["probe_id"]: (r["verdict"], r["answer_rank"]) for r in read_records(d)}  # noqa: E731
    assert verdicts(faulty) == verdicts(clean)
    assert len({rank for _, rank in verdicts(clean).values()}) > 1, "ranks differ between probes"
