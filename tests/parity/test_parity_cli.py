"""`sftdebug parity` end to end: the serving sides (tokenizer folder, GGUF, an endpoint stub of vLLM's /tokenize),
exit codes and gates, the run folder and report, and bad input (one line, exit 2, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REALDATA
from helpers import one_line_error, sftdebug
from stub_tokenize import TokenizeStub

from sftdebug.parity import ParityConfig, run_parity

ALPACA = str(REALDATA / "alpaca_en_demo.json")
pytestmark = pytest.mark.slow  # real tokenizers (make real) and subprocesses


def _smol_gguf() -> Path:
    from sftdebug.lab.real import gguf_path

    return gguf_path("smollm2-135m-instruct")


def test_cli_exit_codes_gate_and_report(smollm2: Path, mutants: dict, think_data: Path, tmp_path: Path) -> None:
    base = ["parity", "--data", str(think_data), "--tokenizer", str(smollm2)]
    same = sftdebug(*base, "--serve-tokenizer", str(mutants["same"]), "--out", str(tmp_path / "same"))
    assert same.returncode == 0, same.stderr
    bad = sftdebug(*base, "--serve-tokenizer", str(mutants["no_newline"]), "--out", str(tmp_path / "bad"))
    assert bad.returncode == 1 and "generation_prompt_differs" in bad.stdout, bad.stdout + bad.stderr
    summary = json.loads((tmp_path / "bad" / "summary.json").read_text())
    assert summary["rows"] == 3 and summary["rows_differing"] == 3
    assert summary["kinds"] == {"generation_prompt_differs": 3}
    html = (tmp_path / "bad" / "report.html").read_text()
    assert "generation_prompt_differs" in html and "assistant" in html
    gate = ["--serve-tokenizer", str(mutants["no_newline"]), "--overwrite", "--out", str(tmp_path / "bad")]
    assert sftdebug(*base, *gate, "--fail-above", "rows_differing=3").returncode == 0
    assert sftdebug(*base, *gate, "--fail-above", "rows_differing=2").returncode == 3


def test_report_escapes_the_data(smollm2: Path, mutants: dict, tmp_path: Path) -> None:
    rows = [
        {"messages": [{"role": "user", "content": "<script>alert(1)</script>"}, {"role": "assistant", "content": "x"}]}
    ]
    data = tmp_path / "x.jsonl"
    data.write_text(json.dumps(rows[0]) + "\n")
    out = tmp_path / "run"
    run_parity(
        ParityConfig(data=str(data), tokenizer=str(smollm2), serve_tokenizer=str(mutants["split"]), out=str(out))
    )
    from sftdebug.report.build import build_report

    html = build_report([out]).read_text()
    assert "<script>" not in html and ">&lt;</span>" in html  # the "<" token of the data, escaped


def test_endpoint_like_vllm_tokenize(
    smollm2: Path, mutants: dict, think_data: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    with TokenizeStub(smollm2, stops={0, 2}, api_key="sk-secret") as stub:
        cfg = ParityConfig(
            data=str(think_data), tokenizer=str(smollm2), endpoint=stub.url, model="stub", out=str(tmp_path / "a")
        )
        result = run_parity(cfg)
        assert result.summary["rows_differing"] == 0 and result.summary["stop_unknown_turns"] == 0
        assert any(path == "/v1/completions" for path, _ in stub.requests), "the stop token is probed"
    assert "sk-secret" not in (tmp_path / "a" / "config.json").read_text()
    with TokenizeStub(mutants["no_system"], stops={0}) as stub:
        cfg = ParityConfig(
            data=str(think_data), tokenizer=str(smollm2), endpoint=stub.url, model="stub", out=str(tmp_path / "b")
        )
        kinds = run_parity(cfg).summary["kinds"]
    assert kinds == {"system_prompt_differs": 2, "stop_token_mismatch": 3}


def test_endpoint_like_llama_cpp_server(smollm2: Path, think_data: Path, tmp_path: Path) -> None:
    with TokenizeStub(smollm2, stops={0, 2}, llama_cpp=True) as stub:
        cfg = ParityConfig(
            data=str(think_data), tokenizer=str(smollm2), endpoint=stub.url, model="stub", out=str(tmp_path / "a")
        )
        summary = run_parity(cfg).summary
        assert any(path == "/apply-template" for path, _ in stub.requests)
    assert summary["rows_differing"] == 0 and "llama.cpp server" in summary["serving"]


@pytest.mark.parametrize("engine", ["approximation", "llama.cpp"])
def test_smollm2_gguf_against_its_tokenizer(engine: str, smollm2: Path, tmp_path: Path) -> None:
    if engine == "llama.cpp":
        pytest.importorskip("llama_cpp", reason="llama-cpp-python is an optional extra (make llama)")
    cfg = ParityConfig(
        data=ALPACA,
        tokenizer=str(smollm2),
        serve_gguf=str(_smol_gguf()),
        gguf_engine=engine,
        out=str(tmp_path / "g"),
        limit=20,
    )
    summary = run_parity(cfg).summary
    assert summary["rows_differing"] == 0, summary["kinds"]
    assert (summary["serving_engine"] == "approximation") == (engine == "approximation")


def test_llama_cpp_builtin_template_engine_drops_smollm2s_default_system_prompt(smollm2: Path, tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is an optional extra (make llama)")
    cfg = ParityConfig(
        data=ALPACA,
        tokenizer=str(smollm2),
        serve_gguf=str(_smol_gguf()),
        gguf_template="builtin",
        out=str(tmp_path / "b"),
        limit=10,
    )
    summary = run_parity(cfg).summary
    assert summary["kinds"] == {"system_prompt_differs": 10} and "built-in engine" in summary["serving"]


def _no_template_gguf(tmp: Path, lab: Path) -> str:
    import gguf

    path = tmp / "tiny.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_tokenizer_model("gpt2")
    w.add_token_list(["<s>", "a", "b"])
    w.add_bos_token_id(0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return str(path)


def _no_assistant(tmp: Path, lab: Path) -> str:
    path = tmp / "d.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    return str(path)


def _closed_port(tmp: Path, lab: Path) -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


CASES = [
    ("unreachable", ["--endpoint", "{x}", "--model", "m"], _closed_port, "cannot reach"),
    ("no-tokenize", ["--endpoint", "{stub}", "--model", "stub"], None, "no /tokenize"),
    ("gguf-no-template", ["--serve-gguf", "{x}"], _no_template_gguf, "no chat template"),
    ("no-assistant", ["--serve-tokenizer", "{smol}", "--data", "{x}"], _no_assistant, "no assistant turn"),
    ("two-sides", ["--serve-tokenizer", "{smol}", "--serve-gguf", "x.gguf"], None, "exactly one serving side"),
    ("no-model", ["--endpoint", "http://127.0.0.1:1"], None, "--model"),
    ("gguf-missing", ["--serve-gguf", "./nope.gguf"], None, "no such file"),
]


@pytest.mark.parametrize("argv,make,needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(argv: list[str], make, needle: str, smollm2: Path, tmp_path: Path) -> None:
    x = make(tmp_path, smollm2) if make else ""
    before = sorted(p.name for p in tmp_path.iterdir())
    out = tmp_path / "out"
    with TokenizeStub(smollm2, stops={2}, tokenize=False) as stub:  # an OpenAI-compatible server without /tokenize
        args = [a.format(x=x, stub=stub.url, smol=smollm2) for a in argv]
        base = ["parity", "--tokenizer", str(smollm2)] + ([] if "--data" in args else ["--data", ALPACA])
        proc = sftdebug(*base, *args, "--out", str(out))
    one_line_error(proc, needle)
    assert not out.exists(), "nothing is written on bad input"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_report_in_a_browser_shows_data_as_text(smollm2: Path, mutants: dict, tmp_path: Path) -> None:
    """Chromium (where `make browser` installed it) renders the report with hostile data as text, nothing run."""
    import shutil
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("LOUD SKIP: chromium is not installed and could not be (see `make browser`)")
    evil = "<script>document.title='PWNED'</script><img src=x onerror=\"document.title='PWNED2'\">"
    data = tmp_path / "evil.jsonl"
    data.write_text(
        json.dumps({"messages": [{"role": "user", "content": evil}, {"role": "assistant", "content": evil}]})
    )
    out = tmp_path / "run"
    run_parity(
        ParityConfig(data=str(data), tokenizer=str(smollm2), serve_tokenizer=str(mutants["split"]), out=str(out))
    )
    from sftdebug.report.build import build_report

    page = build_report([out])
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}"]
    proc = subprocess.run([chromium, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    assert "PWNED" not in dom.split("<title>")[1].split("</title>")[0]
    assert "<script>document" not in dom and '<img src="x"' not in dom and "special_token_split" in dom
