"""The OpenAI-compatible endpoint engine: models served by `vllm serve` (or any compatible server).

Raw prompts go to `/v1/completions` (base models), chat prompts to `/v1/chat/completions` (SFT models, the
server applies the chat template). Every request streams (SSE) so each chunk gets a timestamp, and asks for
usage so the server's own token counts are used. Requests run with bounded concurrency, a per-request
timeout, and retries with exponential backoff on connection errors, dropped streams, 5xx and 429. A request
that still fails comes back as a Completion with `finish_reason="error"`: callers record it as failed and
`--resume` retries it. Several endpoints serving the same models are replicas of one model: each attempt goes to
the least-loaded live one, and one that keeps failing is set aside for a while (engines/replicas.py); the check
at start refuses endpoints that serve different models. Only the standard library is used (no client package).

    engine = OpenAIEngine("sft", endpoint="http://127.0.0.1:8000", api_key=os.environ.get("OPENAI_API_KEY"))
    engine = OpenAIEngine("sft", endpoint=["http://10.0.0.1:8000", "http://10.0.0.2:8000"])   # two replicas
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sftdebug.core.chat import render_chat, validate_messages
from sftdebug.core.errors import EngineError, UsageError
from sftdebug.engines.base import (
    Completion,
    Continued,
    EngineInfo,
    FinishReason,
    GenerationRequest,
    Prompt,
    SamplingParams,
    Score,
    ScoreRequest,
    ScoringUnsupported,
    Timing,
)
from sftdebug.engines.replicas import Replica, Replicas

log = logging.getLogger(__name__)
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


MAX_RETRY_AFTER_S = 60.0  # a server's Retry-After is honoured up to this


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def check_endpoint(endpoint: str | None) -> str:
    """The endpoint URL, or a one-line UsageError (checked before any run folder is written)."""
    if not endpoint:
        raise UsageError("--engine openai needs --endpoint URL (e.g. http://127.0.0.1:8000)")
    from sftdebug.core.runs import redact_url

    shown = redact_url(endpoint)  # error lines are printed and logged: never with a credential in them
    try:
        url = urllib.parse.urlparse(endpoint)
        url.port  # noqa: B018  (a port that is not a number raises here, not at the first request)
    except ValueError:
        raise UsageError(f"--endpoint {shown!r}: not a valid URL") from None
    if not endpoint.startswith(("http://", "https://")) or not url.hostname:
        raise UsageError(f"--endpoint {shown!r}: expected an http:// or https:// URL with a host")
    if url.username is not None or url.password is not None or url.query:
        raise UsageError(
            f"--endpoint {shown!r}: credentials or a query in the URL are not supported (they would be written "
            "to the run folder): pass the key with --api-key or $OPENAI_API_KEY"
        )
    return endpoint


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    """Seconds from a Retry-After header (delay-seconds form), capped; None when absent or a date."""
    value = exc.headers.get("Retry-After") if exc.headers else None
    try:
        return min(MAX_RETRY_AFTER_S, max(0.0, float(value))) if value is not None else None
    except ValueError:
        return None


@dataclass
class _Stream:
    pieces: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    finish: str | None = None
    stop_reason: Any = None
    usage: dict[str, Any] = field(default_factory=dict)


class OpenAIEngine:
    """Engine over an OpenAI-compatible HTTP endpoint (see module docstring)."""

    def __init__(
        self,
        model: str,
        *,
        endpoint: str | Sequence[str] | None = None,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        retries: int = 3,
        backoff: float = 0.5,
        tokenizer: str | None = None,
        trust_remote_code: bool = False,
        check: bool = True,
    ) -> None:
        given = [endpoint] if endpoint is None or isinstance(endpoint, str) else list(endpoint)
        bases = [check_endpoint(e).rstrip("/").removesuffix("/v1") for e in given or [None]]
        if twice := next((b for i, b in enumerate(bases) if b in bases[:i]), None):
            raise UsageError(f"--endpoint {twice} is given twice")
        self.name = model
        self.base = bases[0]  # for messages; requests go to the replica `self.replicas` picks
        self.replicas = Replicas(model, bases)
        self.api_key = api_key
        self.concurrency, self.timeout, self.retries, self.backoff = max(1, concurrency), timeout, retries, backoff
        self.info = EngineInfo(can_score=True)  # known only when a first score request is answered
        self.tokenizer: Any = None
        if tokenizer:
            from transformers import AutoTokenizer

            from sftdebug.engines.source import resolve_tokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(
                resolve_tokenizer(tokenizer), trust_remote_code=trust_remote_code
            )
        if check:
            self.check_model(every=False)

    # --- plumbing ------------------------------------------------------------------------------------

    def _request(self, base: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream, application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(base + path, data=data, headers=headers, method="POST" if data else "GET")
        return urllib.request.urlopen(req, timeout=self.timeout)

    def check_model(self, every: bool = True) -> None:
        """Fail early, with a clear message, when an endpoint is down or does not serve this model, or when
        several endpoints serve different models (then they are not replicas of one model). `every=False` (an
        engine opened mid-run, e.g. the SFT model's after the base phase): replicas that are down are set aside,
        as long as one answers."""
        served: dict[str, list[str]] = {}
        down: list[tuple[Replica, EngineError]] = []
        for r in self.replicas.all:
            try:
                served[r.url] = self._served(r.url)
            except EngineError as exc:
                if every or len(self.replicas.all) == 1:
                    raise
                down.append((r, exc))
        if not served:
            raise down[0][1]
        for r, why in down:
            log.warning("%s is set aside: %s", r.url, why)
            self.replicas.set_aside(r)
        if len({frozenset(s) for s in served.values()}) > 1:
            shown = "; ".join(f"{url} serves {', '.join(s) or 'nothing'}" for url, s in served.items())
            raise UsageError(f"the endpoints serve different models, so they are not replicas: {shown}")
        models = next(iter(served.values()))
        if models and self.name not in models:
            where = ", ".join(served)
            raise UsageError(f"model {self.name!r} is not served by {where} (served: {', '.join(models)})")

    def _served(self, base: str) -> list[str]:
        try:
            with self._request(base, "/v1/models") as resp:
                return [str(m.get("id")) for m in json.load(resp).get("data", [])]
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise UsageError(
                    f"{base} refused the API key ({exc.code}): pass --api-key or set OPENAI_API_KEY"
                ) from None
            raise EngineError(f"{base}/v1/models answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise EngineError(f"cannot reach {base} ({reason}): is the server running? check --endpoint") from None

    def replica_stats(self) -> list[dict[str, Any]]:
        """Per endpoint: requests (attempts), failures, mean latency of the answered ones, whether set aside."""
        return self.replicas.stats()

    def redact(self, text: str) -> str:
        """Error text with the API key (and any bearer token) removed: servers may echo request headers, and
        errors are written to records.jsonl."""
        if self.api_key:
            text = text.replace(self.api_key, "***")
        return re.sub(r"(?i)bearer\s+[^\s\"',;]+", "Bearer ***", text)

    def _with_retries(self, fn: Any, *args: Any) -> Any:
        """`fn(base, *args)` on the replica `self.replicas` picks, retried (preferably on another replica) with
        backoff on retryable failures; each attempt's outcome and time go to the replica's counts."""
        delay, failed_on, pause = self.backoff, list[Replica](), 0.0
        for attempt in range(self.retries + 1):
            replica, ok, t0 = self.replicas.acquire(avoid=failed_on), None, time.perf_counter()
            try:
                result = fn(replica.url, *args)
                ok = True
                return result
            except _Retryable as exc:
                ok = False
                failed_on.append(replica)
                if attempt == self.retries:
                    raise EngineError(self.redact(f"failed after {self.retries + 1} attempts: {exc}")) from None
                log.debug("retrying after %s (attempt %d)", exc, attempt + 1)
                pause = exc.retry_after if exc.retry_after is not None else delay
            finally:
                self.replicas.release(replica, ok, time.perf_counter() - t0)
            time.sleep(pause)
            delay *= 2
        raise AssertionError("unreachable")

    def _call(self, base: str, path: str, body: dict[str, Any], stream: bool) -> Any:
        """One HTTP exchange with `base`: parsed JSON, or the parsed SSE stream. Classifies failures as retryable."""
        t0 = time.perf_counter()
        try:
            with self._request(base, path, body) as resp:
                if not stream:
                    return json.load(resp)
                return self._read_stream(resp, t0)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            if exc.code in RETRY_STATUS:
                raise _Retryable(f"HTTP {exc.code} {detail}", _retry_after(exc)) from None
            if exc.code == 404 and "model" in detail.lower():
                raise UsageError(self.redact(f"{base}: model {self.name!r} not found ({detail})")) from None
            raise EngineError(self.redact(f"HTTP {exc.code} from {base}{path}: {detail}")) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
            raise _Retryable(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from None

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """One JSON request (not streamed) with this engine's retries, timeout and key handling, e.g. vLLM's
        `/tokenize`; a request that still fails raises EngineError (with the key redacted)."""
        return self._with_retries(self._call, path, body, False)

    def _read_stream(self, resp: Any, t0: float) -> _Stream:
        s, done = _Stream(), False
        for raw in resp:
            line = raw.strip()
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                done = True
                break
            try:
                obj = json.loads(data)
            except json.JSONDecodeError:  # a torn or garbled event: the whole answer is asked for again
                raise _Retryable(f"malformed stream event {data[:60]!r}") from None
            if not isinstance(obj, dict):
                raise _Retryable(f"malformed stream event {data[:60]!r}")
            if obj.get("usage"):
                s.usage = obj["usage"]
            for ch in obj.get("choices") or []:
                piece = ch.get("text") if "text" in ch else (ch.get("delta") or {}).get("content")
                if piece:
                    s.pieces.append(piece)
                    s.times.append(time.perf_counter() - t0)
                if ch.get("finish_reason"):
                    s.finish, s.stop_reason = ch["finish_reason"], ch.get("stop_reason")
            if time.perf_counter() - t0 > self.timeout:
                raise _Retryable(f"stream exceeded the {self.timeout:.0f} s timeout")
        if not done:
            raise _Retryable("the stream ended before [DONE] (dropped connection)")
        return s

    @property
    def workers(self) -> int:
        """Requests in flight: --concurrency per replica."""
        return self.concurrency * len(self.replicas.all)

    # --- engine interface ----------------------------------------------------------------------------

    def render(self, prompt: Prompt) -> str:
        if isinstance(prompt, Continued):
            return self.render(prompt.prompt) + prompt.answer
        if isinstance(prompt, str):
            return prompt
        messages = validate_messages(prompt)
        if self.tokenizer is not None:
            return render_chat(self.tokenizer, messages)
        return json.dumps(messages, ensure_ascii=False)  # the server renders; this is for display only

    def _body(self, prompt: Prompt, p: SamplingParams, sample: int) -> tuple[str, dict[str, Any]]:
        if isinstance(prompt, Continued):  # info.can_continue is False: callers regenerate instead
            raise UsageError("an endpoint cannot continue a begun answer (Continued prompt): regenerate it")
        body: dict[str, Any] = {
            "model": self.name,
            "max_tokens": p.max_new_tokens,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if p.temperature > 0 and p.seed is not None:
            body["seed"] = p.seed + sample
        if p.stop:
            body["stop"] = list(p.stop)
        if p.stop_token_ids:
            body["stop_token_ids"] = list(p.stop_token_ids)  # vLLM extension
        if p.ignore_eos:
            body["ignore_eos"] = True  # vLLM extension: latency sweeps need exactly max_tokens tokens
        if isinstance(prompt, str):
            return "/v1/completions", {**body, "prompt": prompt}
        return "/v1/chat/completions", {**body, "messages": validate_messages(prompt)}

    def _one(self, req: GenerationRequest, sample: int) -> Completion:
        path, body = self._body(req.prompt, req.params, sample)
        try:
            s: _Stream = self._with_retries(self._call, path, body, True)
        except EngineError as exc:
            return Completion(
                text="", token_ids=(), prompt_tokens=0, finish_reason="error", error=self.redact(str(exc))
            )
        n = int(s.usage.get("completion_tokens", len(s.pieces)))
        finish: FinishReason = "length"
        stop_reason = None
        if s.finish == "stop" or (s.finish is None and n < req.params.max_new_tokens):
            finish, stop_reason = "stop", "eos" if s.stop_reason is None else str(s.stop_reason)
        timing = Timing(ttft_s=s.times[0], e2e_s=s.times[-1], token_times_s=tuple(s.times)) if s.times else None
        return Completion(
            text="".join(s.pieces),
            token_ids=(),
            prompt_tokens=int(s.usage.get("prompt_tokens", 0)),
            finish_reason=finish,
            stop_reason=stop_reason,
            timing=timing,
            n_tokens=n,
        )

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        jobs = [(i, j) for i, r in enumerate(requests) for j in range(r.params.n)]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            done = list(pool.map(lambda ij: self._one(requests[ij[0]], ij[1]), jobs))
        out: list[list[Completion]] = [[] for _ in requests]
        for (i, _), c in zip(jobs, done, strict=True):
            out[i].append(c)
        return out

    def _score_one(self, req: ScoreRequest) -> Score:
        if not isinstance(req.prompt, str) and self.tokenizer is None:
            raise ScoringUnsupported(
                "scoring chat prompts through an endpoint needs --tokenizer (to render the template)"
            )
        prompt = self.render(req.prompt)
        text = prompt + req.continuation
        body = {"model": self.name, "prompt": text, "max_tokens": 1, "temperature": 0, "echo": True, "logprobs": 0}
        try:
            resp = self._with_retries(self._call, "/v1/completions", body, False)
        except EngineError as exc:
            if "HTTP 400" in str(exc) or "HTTP 422" in str(exc):
                raise ScoringUnsupported(
                    f"{self.base} does not return prompt log-probs (echo + logprobs): {exc}"
                ) from None
            raise
        lp = resp["choices"][0].get("logprobs") or {}
        offsets, tokens, values = lp.get("text_offset"), lp.get("tokens"), lp.get("token_logprobs")
        if not offsets or tokens is None or values is None:
            raise ScoringUnsupported(f"{self.base} returned no prompt log-probs for echo=true")
        picked = [(t, v) for o, t, v in zip(offsets, tokens, values, strict=True) if len(prompt) <= o < len(text)]
        if not picked or any(v is None for _, v in picked):
            raise ScoringUnsupported(f"{self.base}: the continuation's tokens have no log-probs")
        if any(math.isnan(float(v)) for _, v in picked):  # seen: vLLM's CPU build serving with --enable-lora
            raise ScoringUnsupported(f"{self.base} returned NaN prompt log-probs (a server bug: scores are useless)")
        return Score(
            logprob=float(sum(v for _, v in picked)),
            token_logprobs=tuple(float(v) for _, v in picked),
            tokens=tuple(t for t, _ in picked),
        )

    def _score_or_error(self, req: ScoreRequest) -> Score:
        try:
            return self._score_one(req)
        except ScoringUnsupported:
            raise
        except EngineError as exc:  # failed after retries: this request only, like a failed generation
            return Score(math.nan, (), (), error=str(exc))

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(self._score_or_error, requests))

    def close(self) -> None:
        pass  # nothing held open: each request has its own connection
