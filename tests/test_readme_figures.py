"""README figures come from files commands write (benchmarks/readme_figures.py): none is stale, none unmarked."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("readme_figures", ROOT / "benchmarks" / "readme_figures.py")
assert _spec is not None and _spec.loader is not None
figures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(figures)

ZONE = re.compile(r"<!-- figures -->(.*?)<!-- /figures -->", re.S)
# a measured quantity: a share, seconds, minutes, milliseconds or a ratio (thresholds and defaults live outside zones)
MEASURE = re.compile(r"\d[\d,.]*\s?(?:%|ms\b|s\b|min\b|×)")


def test_every_marked_figure_equals_its_source() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    new, problems = figures.render(text)
    assert not problems, "\n".join(problems)
    stale = [(a, b) for a, b in zip(text.splitlines(), new.splitlines(), strict=True) if a != b]
    assert not stale, "README figures differ from their files (run `make readme`):\n" + "\n".join(
        f"{a.strip()}\n  -> {b.strip()}" for a, b in stale
    )


def test_figure_zones_quote_nothing_by_hand() -> None:
    """Between `<!-- figures -->` marks (the lab, the demo, the real models) every measured number is marked."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    zones = ZONE.findall(text)
    assert zones, "README.md has no figure zones"
    for zone in zones:
        bare = figures.MARK.sub("", zone)
        bare = re.sub(r"<!--.*?-->", "", bare)
        bare = re.sub(r"95% (CI|interval)", "", bare)  # a confidence level, not a measurement
        found = MEASURE.findall(bare)
        assert not found, f"unmarked figures in a README figure zone: {found[:10]}"


def test_render_formats_and_reports_problems(tmp_path: Path) -> None:
    (tmp_path / "docs" / "figures").mkdir(parents=True)
    (tmp_path / "docs" / "figures" / "demo.json").write_text('{"runs": {"h": {"rate": 0.0264, "ci": [0.018, 0.037]}}}')
    text = (
        "a <!--f demo:runs/h/rate pct-->9%<!--/f--> b <!--f demo:runs/h/ci ci-->[]<!--/f-->\n"
        "c <!--f demo:runs/h/nope pct-->1%<!--/f--> d <!--f nosuch:x-->1<!--/f-->\n"
    )
    new, problems = figures.render(text, tmp_path)
    assert (
        new.splitlines()[0]
        == "a <!--f demo:runs/h/rate pct-->2.6%<!--/f--> b <!--f demo:runs/h/ci ci-->[1.8, 3.7]<!--/f-->"
    )
    assert len(problems) == 2 and "README.md:2" in problems[0] and "'nope'" in problems[0]
