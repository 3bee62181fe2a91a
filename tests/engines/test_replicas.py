"""Several endpoints as replicas of one model: which replica takes a request (the least loaded; one that fails
three times in a row is set aside, then tried again), and runs over three stub servers of which one dies mid-run:
they finish with the one-endpoint run's results and count each replica's requests in the summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import one_line_error, sftdebug
from stub_openai import StubServer

from sftdebug.core.runs import read_records
from sftdebug.engines.config import EngineConfig
from sftdebug.engines.replicas import FAIL_LIMIT, REST_S, Replicas, rows_since, tally
from sftdebug.generate import GenerateConfig
from sftdebug.generate import run as generate


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _replicas(n: int = 3) -> tuple[Replicas, Clock]:
    clock = Clock()
    return Replicas("m", ["a", "b", "c"][:n], clock=clock), clock


def _fail(rs: Replicas, url: str, times: int, ok: bool | None = False) -> None:
    for _ in range(times):
        r = rs.acquire(avoid=[x for x in rs.all if x.url != url])
        assert r.url == url
        rs.release(r, ok, 0.0)


def test_the_least_loaded_replica_takes_the_next_request() -> None:
    rs, _ = _replicas()
    assert [rs.acquire().url for _ in range(4)] == ["a", "b", "c", "a"], "fewest in flight, then fewest sent"
    rs.release(rs.all[1], True, 0.2)
    assert rs.acquire().url == "b", "b finished its request: it has the fewest in flight"
    assert rs.acquire(avoid=[rs.all[2]]).url == "b", "a retry avoids the replica that failed it"


def test_a_replica_failing_in_a_row_is_set_aside_then_tried_again() -> None:
    rs, clock = _replicas(2)
    a = rs.all[0]
    _fail(rs, "a", FAIL_LIMIT - 1)
    rs.release(rs.acquire(avoid=[rs.all[1]]), True, 0.1)  # an answer in between: the streak starts again
    _fail(rs, "a", FAIL_LIMIT)
    assert {rs.acquire().url for _ in range(5)} == {"b"}, "set aside: even with the fewest in flight"
    assert rs.acquire(avoid=[rs.all[1]]).url == "b", "a set-aside replica is not used while another lives"
    clock.t += REST_S
    assert rs.acquire().url == "a", "back after its rest"
    rs.release(a, False, 0.0)
    assert a.back_at == clock.t + 2 * REST_S, "failing again on its return: set aside twice as long"
    clock.t += 2 * REST_S
    rs.release(rs.acquire(), True, 0.3)
    assert (a.streak, a.rest_s) == (0, 0.0), "an answer makes it whole again"
    row = next(s for s in rs.stats() if s["endpoint"] == "a")
    assert row == {"model": "m", "endpoint": "a", "requests": 2 * FAIL_LIMIT + 2, "failures": 2 * FAIL_LIMIT,
                   "mean_latency_s": 0.2, "set_aside": False}  # fmt: skip


@pytest.mark.parametrize(
    "n,ok,aside",
    [
        (3, None, False),  # errors about the request itself (400, 404): the server answered, it is alive
        (1, False, False),  # a single endpoint is never set aside: it is the only one there is
        (3, False, True),
    ],
)
def test_what_sets_a_replica_aside(n: int, ok: bool | None, aside: bool) -> None:
    rs, _ = _replicas(n)
    _fail(rs, "a", FAIL_LIMIT, ok)
    assert rs.stats()[0]["set_aside"] is aside
    assert rs.stats()[0]["failures"] == (FAIL_LIMIT if ok is False else 0)


def test_with_every_replica_set_aside_the_one_back_soonest_is_tried() -> None:
    rs, clock = _replicas(2)
    _fail(rs, "b", FAIL_LIMIT)
    clock.t += 1
    _fail(rs, "a", FAIL_LIMIT)
    assert rs.acquire().url == "b"


def test_a_run_counts_only_its_own_requests() -> None:
    """What a run folder writes: the requests since it opened, of sets of several replicas only."""
    rs, alone = Replicas("m-own", ["x", "y"]), Replicas("m-alone", ["z"])
    rs.release(rs.acquire(), True, 0.5)
    before = tally()
    rs.release(rs.acquire(), True, 0.1)
    alone.release(alone.acquire(), True, 0.1)
    assert rows_since(before) == [
        {"model": "m-own", "endpoint": "y", "requests": 1, "failures": 0, "mean_latency_s": 0.1}
    ]


# --- runs over three stub servers, one of which dies mid-run ---------------------------------------------------


def _stubs(kill_after: int, **kw) -> tuple[StubServer, StubServer, StubServer]:
    return StubServer(k=0.01, **kw), StubServer(k=0.01, kill_after=kill_after, **kw), StubServer(k=0.01, **kw)


def _generate(urls: list[str], prompts: Path, out: Path) -> dict:
    engine = EngineConfig(engine="openai", endpoint=urls, concurrency=2)
    result = generate(GenerateConfig(model="stub", prompts=str(prompts), max_new_tokens=6, engine=engine, out=str(out)))
    return result.summary


def test_generate_outlives_a_dead_replica(tmp_path: Path) -> None:
    """40 prompts over three replicas, one dying after 8 requests (its streams in flight cut): every output equals
    the one-endpoint run's, and the summary counts each replica."""
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(
        "".join(json.dumps({"id": i, "prompt": f"question {i} about w{i * 7}"}) + "\n" for i in range(40))
    )
    with StubServer(echo=True) as one:
        single = _generate([one.url], prompts, tmp_path / "one")
    a, b, c = _stubs(kill_after=8, echo=True)
    with a, b, c:
        summary = _generate([a.url, b.url, c.url], prompts, tmp_path / "three")
    assert b.dead and len(b.requests) == 8
    assert summary["n_failed"] == 0 and summary["n_prompts"] == 40
    texts = lambda d: {r["id"]: r["text"] for r in read_records(d)}  # noqa: E731
    assert texts(tmp_path / "three") == texts(tmp_path / "one") and len(set(texts(tmp_path / "one").values())) == 40
    assert "replicas" not in single, "one endpoint: no replica table"
    rows = {r["endpoint"]: r for r in summary["replicas"]}
    assert set(rows) == {a.url, b.url, c.url}
    assert rows[b.url]["failures"] >= 1 and rows[b.url]["requests"] >= 8
    assert all(rows[u]["failures"] == 0 and rows[u]["mean_latency_s"] > 0 for u in (a.url, c.url))
    assert sum(r["requests"] - r["failures"] for r in rows.values()) == 40, "each prompt answered once"
    assert json.loads((tmp_path / "three" / "summary.json").read_text())["replicas"] == summary["replicas"]
    config = json.loads((tmp_path / "three" / "config.json").read_text())["args"]
    assert config["endpoint"] == [a.url, b.url, c.url]
    assert json.loads((tmp_path / "one" / "config.json").read_text())["args"]["endpoint"] == one.url


HAL = ["hallucination", "--engine", "openai", "--base", "stub", "--sft", "stub", "--builtin", "en", "--limit", "12"]


def test_hallucination_outlives_a_dead_replica(tmp_path: Path) -> None:
    """The command as a user types it: three --endpoint, one replica dying mid-run (before the SFT model is
    opened): the verdicts and candidate ranks equal a one-endpoint run's."""
    with StubServer(k=0.01, scoring=True) as one:
        assert sftdebug(*HAL, "--endpoint", one.url, "--out", str(tmp_path / "one")).returncode == 0
    a, b, c = _stubs(kill_after=10, scoring=True)
    with a, b, c:
        urls = [arg for s in (a, b, c) for arg in ("--endpoint", s.url)]
        proc = sftdebug(*HAL, *urls, "--concurrency", "2", "--out", str(tmp_path / "three"))
    assert proc.returncode == 0, proc.stderr
    assert b.dead and len(a.requests) + len(c.requests) > 2 * len(b.requests)
    verdicts = lambda d: {r["probe_id"]: (r["verdict"], r["answer_rank"]) for r in read_records(d)}  # noqa: E731
    assert verdicts(tmp_path / "three") == verdicts(tmp_path / "one") and len(verdicts(tmp_path / "one")) == 12
    summary = json.loads((tmp_path / "three" / "summary.json").read_text())
    assert summary["n_failed"] == 0
    rows = {r["endpoint"]: r for r in summary["replicas"]}
    dead = rows[b.url]  # its streams in flight when it died reached it, then failed
    assert dead["requests"] - dead["failures"] <= len(b.requests) <= dead["requests"] and dead["failures"] >= 1
    assert rows[a.url]["requests"] == len(a.requests) and rows[a.url]["failures"] == 0
    assert (
        "endpoints (replicas)" in proc.stdout and "Endpoints (replicas)" in (tmp_path / "three/report.html").read_text()
    )


@pytest.mark.parametrize("flag", ["--endpoint", "--sft-endpoint"])
def test_endpoints_serving_different_models_are_refused(tmp_path: Path, flag: str) -> None:
    """They are not replicas: one line, exit 2, nothing written, no request sent."""
    with StubServer() as a, StubServer() as b, StubServer(model="other") as c:
        urls = [arg for s in (a, b, c) for arg in (flag, s.url)]
        base = ["--endpoint", a.url] if flag != "--endpoint" else []
        proc = sftdebug(*HAL, *base, *urls, "--out", str(tmp_path / "out"))
        one_line_error(proc, "not replicas", f"{c.url} serves other")
        assert not (tmp_path / "out").exists()
        assert not a.requests + b.requests + c.requests
