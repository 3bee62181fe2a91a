"""Reports in a real browser (headless Chromium): no console errors, no network requests, and model output
with <script> / <img onerror> shown as text, never executed.

`make test` installs Debian's chromium where it can; where it cannot, this test skips with a loud reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from fakes import FakeEngine
from test_hallucination import TOKYO

from sftdebug.core.runs import RunFolder
from sftdebug.hallucination.phases import HallucinationSettings, run_hallucination
from sftdebug.report.build import build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,  # a headless Chromium started per page
    pytest.mark.skipif(
        CHROMIUM is None, reason="LOUD SKIP: chromium is not installed and could not be (see `make browser`)"
    ),
]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-pings",
]
EVIL = "<script>document.title='PWNED'</script><img src=x onerror=\"document.title='PWNED2'\">"


def browse(page: Path, tmp: Path, *extra: str) -> tuple[str, str, list[str]]:
    """Open `page`; return (stdout, stderr, URLs the page itself requested, from Chromium's net log)."""
    netlog = tmp / "net.json"
    proc = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={tmp / 'profile'}",
            f"--log-net-log={netlog}",
            "--enable-logging=stderr",
            "--v=0",
            *extra,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    log = json.loads(netlog.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    # Requests the page made carry its file:// isolation key; the browser's own chatter does not.
    urls = [
        e["params"]["url"]
        for e in log["events"]
        if e["type"] == start and "file://" in e.get("params", {}).get("network_isolation_key", "")
    ]
    return proc.stdout, proc.stderr, urls


def test_the_network_detector_can_fail(tmp_path: Path) -> None:
    page = tmp_path / "leaky.html"
    page.write_text('<!doctype html><title>t</title><img src="http://127.0.0.1:9/pixel.png">')
    _, _, urls = browse(page, tmp_path, "--dump-dom")
    assert urls == ["http://127.0.0.1:9/pixel.png"]


def test_report_renders_offline_and_escapes_model_output(tmp_path: Path) -> None:
    base = FakeEngine({"The capital of Japan is": " Tokyo " + EVIL})
    sft = FakeEngine({"What is the capital of Japan?": EVIL})
    run_dir = tmp_path / "run"
    with RunFolder.open(run_dir, "hallucination", {"base": "b", "sft": "s"}) as run:
        run_hallucination(lambda: base, lambda: sft, [TOKYO] * 1, HallucinationSettings(), run, lambda *a: None)
    page = build_report([run_dir])
    dom, err, urls = browse(page, tmp_path, "--dump-dom")
    assert urls == [], f"the report made network requests: {urls}"
    console = [line for line in err.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console
    assert "PWNED" not in dom.split("<title>")[1].split("</title>")[0]
    assert '<img src="x"' not in dom and "&lt;script&gt;document.title" in dom
    shot = tmp_path / "shot.png"
    browse(page, tmp_path, f"--screenshot={shot}", "--window-size=1280,1600")
    assert shot.stat().st_size > 10_000, "the screenshot should show a rendered page"


def test_data_report_renders_offline_and_escapes_data(tmp_path: Path, lab: Path) -> None:
    from sftdebug.cli import main

    rows = [
        {"instruction": f"Question number {i}?", "output": "I am {{name}}. " + EVIL if i == 0 else f"Answer {i}."}
        for i in range(5)
    ]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    assert main(["data", str(data), "--tokenizer", str(lab / "sft-healthy"), "--out", str(out)]) == 1
    dom, err, urls = browse(out / "report.html", tmp_path, "--dump-dom")
    assert urls == [], f"the report made network requests: {urls}"
    assert [line for line in err.splitlines() if "CONSOLE" in line or "Uncaught" in line] == []
    assert "PWNED" not in dom.split("<title>")[1].split("</title>")[0]
    assert '<img src="x"' not in dom and "&lt;script&gt;document.title" in dom  # the placeholder example row
    assert dom.count('class="tok ') > 50, "the loss-mask view is in the page"
