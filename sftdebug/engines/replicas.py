"""Replicas of one model behind several endpoints: which one takes the next request, which are set aside, and what
each has done (requests, failures, mean latency), for the endpoint engine (engines/openai.py).

    sftdebug generate --engine openai --endpoint http://10.0.0.1:8000 --endpoint http://10.0.0.2:8000 --model sft

Each attempt of a request goes to the live replica with the fewest requests in flight (a slow or hung replica
piles up requests in flight and so gets fewer new ones), a retry preferably to another replica than the ones that
failed it. A replica that fails FAIL_LIMIT attempts in a row (connection refused, 5xx, 429, dropped stream,
timeout: the engine's retryable failures) is set aside for REST_S seconds, twice as long each time it fails again
on its return (up to MAX_REST_S); while set aside it gets no requests unless every replica is set aside. The
engine's own retries and the run's retry rounds (core/loop.py) do the rest: a run finishes while one replica lives.

The counts of every set of several replicas made in this process add up to a tally; a run folder takes its own
share of it into `summary.json` (`replicas`: one row per model and endpoint) when it writes its summary
(core/runs.py), whichever command and engines sent the requests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

FAIL_LIMIT = 3  # failed attempts in a row that set a replica aside
REST_S = 5.0  # seconds a replica is set aside at first
MAX_REST_S = 60.0

_lock = threading.Lock()
_sets: list[Replicas] = []  # every set of several replicas made in this process (small: read by `tally`)


@dataclass(eq=False)
class Replica:
    url: str  # the server's base URL (without /v1)
    in_flight: int = 0
    requests: int = 0  # attempts sent
    failures: int = 0  # attempts that failed retryably (the server did not answer, or answered 5xx / 429)
    seconds: float = 0.0  # summed over answered attempts
    answered: int = 0
    streak: int = 0  # failed attempts in a row
    rest_s: float = 0.0  # how long it was last set aside
    back_at: float = 0.0  # clock time until which it is set aside


class Replicas:
    """The replicas of one model (one is allowed: then it takes every request, never set aside)."""

    def __init__(
        self, model: str, urls: Sequence[str], fail_limit: int = FAIL_LIMIT, clock: Callable[[], float] = time.monotonic
    ) -> None:
        assert urls, "at least one endpoint"
        self.model, self.fail_limit, self.clock = model, fail_limit, clock
        self.all = [Replica(u) for u in urls]
        self._lock = threading.Lock()
        if len(urls) > 1:
            with _lock:
                _sets.append(self)

    def acquire(self, avoid: Iterable[Replica] = ()) -> Replica:
        """The replica for the next attempt: live and not in `avoid` if any, else live, else the one back soonest."""
        with self._lock:
            now, avoid = self.clock(), set(avoid)
            live = [r for r in self.all if r.back_at <= now]
            fresh = [r for r in live if r not in avoid]
            if fresh or live:
                r = min(fresh or live, key=lambda r: (r.in_flight, r.requests))
            else:
                r = min(self.all, key=lambda r: r.back_at)
            r.in_flight += 1
            r.requests += 1
            return r

    def release(self, r: Replica, ok: bool | None, seconds: float) -> None:
        """An attempt is over: `ok` True (answered), False (failed retryably: counts towards setting it aside),
        None (the server answered with an error about the request itself, e.g. 400: says nothing of its health)."""
        with self._lock:
            r.in_flight -= 1
            if ok is False:
                r.failures += 1
                r.streak += 1
                if r.streak >= self.fail_limit:
                    self._rest(r)
            else:
                r.streak, r.rest_s = 0, 0.0
            if ok:
                r.seconds += seconds
                r.answered += 1

    def set_aside(self, r: Replica) -> None:
        """Set aside now (e.g. down when an engine is opened): it counts as having failed FAIL_LIMIT times."""
        with self._lock:
            r.streak = max(r.streak, self.fail_limit)
            self._rest(r)

    def _rest(self, r: Replica) -> None:
        if len(self.all) > 1:
            r.rest_s = min(MAX_REST_S, 2 * r.rest_s or REST_S)
            r.back_at = self.clock() + r.rest_s

    def stats(self) -> list[dict[str, object]]:
        """Per replica: requests (attempts), failures, mean latency of the answered ones, whether it is set aside."""
        with self._lock:
            now = self.clock()
            return [
                _row(self.model, r.url, r.requests, r.failures, r.seconds, r.answered) | {"set_aside": r.back_at > now}
                for r in self.all
            ]


def _row(model: str, url: str, requests: float, failures: float, seconds: float, answered: float) -> dict[str, object]:
    mean = round(seconds / answered, 4) if answered else None
    return {
        "model": model,
        "endpoint": url,
        "requests": int(requests),
        "failures": int(failures),
        "mean_latency_s": mean,
    }


def tally() -> dict[tuple[str, str], tuple[float, ...]]:
    """(model, endpoint) -> requests, failures, seconds of the answered ones, answered: summed over the sets of
    several replicas made so far (a run folder keeps this at its start, to report only its own share)."""
    with _lock:
        sets = list(_sets)
    sums: dict[tuple[str, str], list[float]] = {}
    for s in sets:
        with s._lock:
            for r in s.all:
                row = sums.setdefault((s.model, r.url), [0, 0, 0.0, 0])
                for i, v in enumerate((r.requests, r.failures, r.seconds, r.answered)):
                    row[i] += v
    return {k: tuple(v) for k, v in sums.items()}


def rows_since(before: Mapping[tuple[str, str], Sequence[float]]) -> list[dict[str, object]]:
    """Per model and endpoint of several-replica engines: requests, failures, mean latency since `before`."""
    rows = []
    for key, now in tally().items():
        was = before.get(key, (0, 0, 0.0, 0))
        diff = [a - b for a, b in zip(now, was, strict=True)]
        if diff[0] > 0:
            rows.append(_row(*key, *diff))
    return rows
