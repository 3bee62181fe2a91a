"""A wheel (not the editable checkout) carries what sftdebug needs at run time: the built-in probe sets."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_install_finds_the_builtin_probes(tmp_path: Path) -> None:
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-w", str(tmp_path)], check=True)
    [wheel] = tmp_path.glob("sftdebug-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "sftdebug/facts/builtin_probes/world_facts_en.jsonl" in names
    assert "sftdebug/facts/builtin_probes/world_facts_zh.jsonl" in names
    target = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True)
    code = (
        "import sftdebug, sftdebug.facts.probes as p\n"
        "files = p.builtin_probe_files('en,zh')\n"
        "print(sftdebug.__file__)\n"
        "print(sum(len(p.load_probes(f)) for f in files))\n"
    )
    # Run outside the checkout: `python -c` puts the working directory first on sys.path.
    env = {"PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=tmp_path
    )
    where, n = out.stdout.split()
    assert where.startswith(str(target)), "the wheel's copy was imported, not the checkout"
    assert int(n) == 770
