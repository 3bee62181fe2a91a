"""`--shard I/N` and `sftdebug merge`: N shards merged equal the unsharded run (every record, the summary's figures);
shards that do not make one run are refused in one line, exit 2, with nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from helpers import one_line_error, sftdebug

from sftdebug.core.errors import UsageError
from sftdebug.core.runs import read_records, read_summary
from sftdebug.core.shards import Shard
from sftdebug.generate import GenerateConfig
from sftdebug.generate import run as generate
from sftdebug.hallucination import HallucinationConfig
from sftdebug.hallucination import run as hallucination
from sftdebug.merge import MergeConfig
from sftdebug.merge import run as merge
from sftdebug.risk import RiskConfig
from sftdebug.risk import run as risk

LIMIT = 40


@pytest.mark.parametrize(("text", "index", "count"), [("0/4", 0, 4), ("3/4", 3, 4), ("0/1", 0, 1), (" 1/2", 1, 2)])
def test_shard_parses(text: str, index: int, count: int) -> None:
    assert Shard.parse(text) == Shard(index, count)


@pytest.mark.parametrize("text", ["3/2", "2/2", "0/0", "-1/2", "1/-2", "x/4", "1.5/4", "1", "1/4/2", ""])
def test_bad_shard_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="--shard"):
        Shard.parse(text)


@pytest.mark.parametrize("n", [1, 3, 4, 7])
def test_shards_split_every_item_once_in_balanced_parts(n: int) -> None:
    ids = [f"p{i:03d}" for i in range(50)]
    parts = [Shard(i, n).keys(ids) for i in range(n)]
    assert sorted(k for p in parts for k in p) == ids  # no gap, no overlap
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert parts == [Shard(i, n).keys(list(reversed(ids))) for i in range(n)]  # by id, not by position


def _hallucination(lab: Path, out: Path, sft: str, shard: str | None = None, **kw: Any) -> Path:
    cfg = HallucinationConfig(base=str(lab / "base"), sft=str(lab / sft), limit=LIMIT, out=str(out), shard=shard, **kw)
    return hallucination(cfg).path


def _same_run(merged: Path, whole: Path, ignore: tuple[str, ...] = ()) -> None:
    """Every record (verdicts, texts, ranks) and every summary figure of the merged run are the unsharded run's."""
    strip = lambda r: {k: v for k, v in r.items() if k not in ignore}  # noqa: E731
    assert [strip(r) for r in read_records(merged)] == [strip(r) for r in read_records(whole)]
    assert read_summary(merged) == read_summary(whole)


# sft-conflict: the acceptance (narrow hallucinations among the verdicts); sft-undertrained few-shot: the
# base asked after exemplars drawn from the whole probe set, and every answer cut (the eos recheck replayed)
CASES = {"conflict": ("sft-conflict", {}), "undertrained-few-shot": ("sft-undertrained", {"base_prompt": "few-shot"})}


@pytest.fixture(scope="module", params=list(CASES))
def hal_runs(request: pytest.FixtureRequest, lab: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    sft, kw = CASES[request.param]
    root = tmp_path_factory.mktemp(f"shards-{request.param}")
    runs = {"whole": _hallucination(lab, root / "whole", sft, **kw)}
    for i in range(4):
        runs[f"s{i}"] = _hallucination(lab, root / f"s{i}", sft, f"{i}/4", **kw)
    runs["merged"] = merge(MergeConfig([str(runs[f"s{i}"]) for i in (2, 0, 3, 1)], str(root / "merged"))).path
    return runs


@pytest.mark.slow
def test_four_hallucination_shards_merged_equal_the_unsharded_run(hal_runs: dict[str, Path]) -> None:
    _same_run(hal_runs["merged"], hal_runs["whole"])
    summary = read_summary(hal_runs["merged"])
    assert summary["n_probes"] == LIMIT and sum(summary["counts"].values()) == LIMIT
    shards = [read_summary(hal_runs[f"s{i}"]) for i in range(4)]
    assert sum(s["n_probes"] for s in shards) == LIMIT and all(s["n_probes"] == LIMIT // 4 for s in shards)
    config = json.loads((hal_runs["merged"] / "config.json").read_text())
    assert "shard" not in config["args"] and [m["shard"] for m in config["merged_from"]] == ["2/4", "0/4", "3/4", "1/4"]
    assert (hal_runs["merged"] / "report.html").is_file()
    shard = json.loads((hal_runs["s1"] / "config.json").read_text())["args"]["shard"]
    assert shard["index"] == 1 and shard["count"] == 4 and shard["items"] == LIMIT and shard["shard_items"] == 10


@pytest.mark.slow
def test_a_finished_shard_resumes_as_itself(lab: Path, hal_runs: dict[str, Path]) -> None:
    s0 = hal_runs["s0"]
    args = json.loads((s0 / "config.json").read_text())["args"]
    before = read_records(s0)
    cfg = HallucinationConfig(base=args["base"], sft=args["sft"], limit=LIMIT, base_prompt=args["base_prompt"],
                              out=str(s0), shard="0/4", resume=True)  # fmt: skip
    assert hallucination(cfg).summary["n_probes"] == LIMIT // 4 and read_records(s0) == before
    proc = sftdebug("hallucination", "--base", args["base"], "--sft", args["sft"], "--limit", str(LIMIT),
                    "--base-prompt", args["base_prompt"], "--out", str(s0), "--resume", "--shard", "1/4")  # fmt: skip
    one_line_error(proc, "--shard was")


@pytest.mark.slow
def test_a_cut_shard_resumes_to_the_run_it_would_have_been(
    lab: Path, hal_runs: dict[str, Path], tmp_path: Path
) -> None:
    """A shard killed in its SFT phase (the journals' last lines and the summary gone) resumes to the same run, and
    merges as the one that was not cut."""
    cut = tmp_path / "s1"
    shutil.copytree(hal_runs["s1"], cut)
    for name, keep in (("records.jsonl", 4), ("sft.jsonl", 6), ("sft_cloze.jsonl", 0), ("eos.jsonl", 0)):
        lines = (cut / name).read_text().splitlines(keepends=True)
        (cut / name).write_text("".join(lines[:keep]))
    (cut / "summary.json").unlink()
    args = json.loads((cut / "config.json").read_text())["args"]
    cfg = HallucinationConfig(base=args["base"], sft=args["sft"], limit=LIMIT, base_prompt=args["base_prompt"],
                              out=str(cut), shard="1/4", resume=True)  # fmt: skip
    hallucination(cfg)
    assert read_records(cut) == read_records(hal_runs["s1"])
    merged = merge(
        MergeConfig([str(hal_runs["s0"]), str(cut), str(hal_runs["s2"]), str(hal_runs["s3"])], str(tmp_path / "m"))
    )
    _same_run(merged.path, hal_runs["whole"])


def _copy(src: Path, dst: Path, **args: Any) -> Path:
    """A copy of a shard with some of its config.json arguments changed (a shard of another run)."""
    shutil.copytree(src, dst)
    config = json.loads((dst / "config.json").read_text())
    for name, value in args.items():
        config["args"][name] = value(config["args"][name]) if callable(value) else value
    (dst / "config.json").write_text(json.dumps(config))
    return dst


@pytest.mark.slow
def test_merge_refuses_shards_that_do_not_make_one_run(hal_runs: dict[str, Path], tmp_path: Path) -> None:
    s = [str(hal_runs[f"s{i}"]) for i in range(4)]
    other_n = lambda sh: {**sh, "count": 5}  # noqa: E731
    other_items = lambda sh: {**sh, "items": 39, "items_sha1": "0" * 40}  # noqa: E731
    cases = {
        "missing": ([s[0], s[1], s[3]], ["shard 2/4 missing"]),
        "duplicated": ([*s, str(_copy(hal_runs["s1"], tmp_path / "dup"))], ["dup", "both shard 1/4"]),
        "other model": ([*s[:3], str(_copy(hal_runs["s3"], tmp_path / "m", sft="other-sft"))], ["--sft", "/m:"]),
        "other N": ([*s[:3], str(_copy(hal_runs["s3"], tmp_path / "n", shard=other_n))], ["/n:", "not one split"]),
        "other probes": ([*s[:3], str(_copy(hal_runs["s3"], tmp_path / "p", shard=other_items))], ["/p:", "39"]),
        "other settings": (
            [*s[:3], str(_copy(hal_runs["s3"], tmp_path / "t", max_new_tokens=8))],
            ["--max-new-tokens"],
        ),
        "not a shard": ([*s[:3], str(hal_runs["whole"])], ["whole", "not a shard"]),
        "not a run": ([*s[:3], str(tmp_path / "nothing")], ["nothing", "not a run folder"]),
    }
    incomplete = _copy(hal_runs["s2"], tmp_path / "inc")
    lines = (incomplete / "records.jsonl").read_text().splitlines(keepends=True)
    (incomplete / "records.jsonl").write_text("".join(lines[:-1]))
    cases["incomplete"] = ([s[0], s[1], str(incomplete), s[3]], ["/inc:", "not complete", "9 of 10"])
    for name, (runs, needles) in cases.items():
        out = tmp_path / f"out-{name.replace(' ', '-')}"
        proc = sftdebug("merge", *runs, "--out", str(out))
        one_line_error(proc, *needles)
        assert not out.exists(), name
        assert not [p for p in tmp_path.iterdir() if ".merging-" in p.name], name


def test_bad_shard_values_write_nothing(lab: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    commands = {
        "hallucination": ["--base", str(lab / "base"), "--sft", str(lab / "sft-conflict"), "--limit", "8"],
        "generate": ["--model", str(lab / "sft-healthy"), "--prompt", "hello"],
        "risk": ["--base", str(lab / "base"), "--data", str(lab / "data" / "sft-conflict.jsonl"), "--limit", "4"],
    }
    for command, args in commands.items():
        for bad in ("3/2", "0/0", "-1/2", "one/2"):
            one_line_error(sftdebug(command, *args, f"--shard={bad}", "--out", str(out)), "--shard")
            assert not out.exists(), (command, bad)
    one_line_error(sftdebug("hallucination", *commands["hallucination"], "--shard", "-1/2", "--out", str(out)))
    one_line_error(
        sftdebug("risk", *commands["risk"], "--shard", "0/2", "--write-filtered", str(tmp_path / "f")), "--shard"
    )
    assert not out.exists() and not (tmp_path / "f").exists()


@pytest.mark.slow
def test_generate_shards_merged_equal_the_unsharded_run(lab: Path, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    rows = [
        {"id": f"q{i}", "messages": [{"role": "user", "content": f"Where does person {i} live?"}]} for i in range(7)
    ]
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def run(out: str, shard: str | None = None) -> str:
        cfg = GenerateConfig(model=str(lab / "sft-healthy"), prompts=str(prompts), max_new_tokens=8, n=2,
                             temperature=1.0, out=str(tmp_path / out), shard=shard)  # fmt: skip
        return str(generate(cfg).path)

    shards = [run(f"g{i}", f"{i}/3") for i in range(3)]
    proc = sftdebug("merge", *reversed(shards), "--out", str(tmp_path / "merged"))
    assert proc.returncode == 0, proc.stderr
    _same_run(tmp_path / "merged", Path(run("whole")), ignore=("ttft_s", "e2e_s"))
    assert read_summary(tmp_path / "merged")["n_samples"] == 14


@pytest.mark.slow
def test_risk_shards_merged_equal_the_unsharded_run(lab: Path, tmp_path: Path) -> None:
    # a probe no row asks: every row is asked few-shot, from the exemplar pool screened from all rows
    first = json.loads((lab / "probes.jsonl").read_text().splitlines()[0])
    probe = tmp_path / "probe.jsonl"
    probe.write_text(json.dumps({**first, "question": ["Where is nowhere?"]}) + "\n")

    def run(out: str, shard: str | None = None) -> str:
        cfg = RiskConfig(base=str(lab / "base"), data=str(lab / "data" / "sft-conflict.jsonl"), probes=[str(probe)],
                         samples=2, limit=24, out=str(tmp_path / out), shard=shard)  # fmt: skip
        return str(risk(cfg).path)

    shards = [run(f"r{i}", f"{i}/3") for i in range(3)]
    merged = merge(MergeConfig(shards, str(tmp_path / "merged"))).path
    _same_run(merged, Path(run("whole")))
    summary = read_summary(merged)
    assert summary["n_rows"] == 24 and summary["exemplars"]["pool"] == "rows the base agrees with"
