"""A small OpenAI-compatible stub server on 127.0.0.1 with a known latency model and injectable faults.

The first token of a streamed answer arrives B0 + B1·p seconds after the request (p = prompt words, which
is what the stub reports as `usage.prompt_tokens`), each further token K seconds later. Faults are queued
per request: "500", "429", "drop" (the stream stops mid-way without [DONE]), "hang" (no answer until the
client's timeout), "400", "hiccup" (the first token 1 s late, as behind another job on a shared machine),
"429-retry-after" (429 with `Retry-After: 1`), "malformed" (a garbled SSE event mid-stream), "echo-auth" (a 500
whose body quotes the request's Authorization header, as some proxies do). With `scoring=True` it answers
`echo` + `logprobs` requests (prompt log-probs, as vLLM does) with a fixed log-prob per word, so candidate
ranking is deterministic; without, it refuses them with 400 like servers that cannot score. `max_concurrent`
answers at most that many requests at once (the others wait, as on a saturated server); `kill_after=N` makes it
die at its (N+1)-th request as a crashed server does (`kill()`): streams in flight stop without [DONE], new
connections are refused. `echo=True` answers with the prompt's words (an answer that shows which prompt it is for).

Under load (a continuous-batching server, known by construction): at most `slots` requests are served at once,
the others wait in a FIFO queue (their wait counts in their TTFT); with n requests in service, prefill and every
token take (1 + share·(n − 1)) times as long (n counted as the request enters service, and again at each token).
So with L ≤ slots requests kept in flight, b and k are (b0 + b1·p)·(1 + share·(L − 1)) and k·(1 + share·(L − 1));
beyond `slots` requests only queue. With `flat`, TTFT is flat up to `flat` prompt words, then linear:
b0 + b1·max(0, p − flat) (vLLM issue #7635).

    with StubServer(model="stub", b0=0.02, b1=0.0005, k=0.004) as stub:
        engine = OpenAIEngine("stub", endpoint=stub.url)
    StubServer(b0=0.02, b1=0.0005, k=0.004, slots=4, share=0.1)   # serves 4 at once, each slowed by the others
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StubServer:
    def __init__(
        self,
        model: str = "stub",
        b0: float = 0.0,
        b1: float = 0.0,
        k: float = 0.0,
        answer_tokens: int = 5,
        api_key: str | None = None,
        fault_mix: dict[str, float] | None = None,
        seed: int = 0,
        scoring: bool = False,
        max_concurrent: int | None = None,
        kill_after: int | None = None,
        echo: bool = False,
        slots: int | None = None,
        share: float = 0.0,
        flat: int = 0,
    ) -> None:
        """`fault_mix`: fault -> probability, drawn (seeded) for every request once the queue is empty."""
        import random

        self.model, self.b0, self.b1, self.k = model, b0, b1, k
        self.fault_mix, self._rng = fault_mix or {}, random.Random(seed)
        self.answer_tokens, self.api_key, self.scoring = answer_tokens, api_key, scoring
        self.slots, self.share, self.flat = slots, share, flat
        self.in_service, self._tickets, self._next = 0, 0, 0  # FIFO admission: tickets served in order
        self._admission = threading.Condition()
        self.faults: deque[str] = deque()
        self.kill_after, self.dead, self.echo = kill_after, False, echo
        self._slots = threading.Semaphore(max_concurrent) if max_concurrent else None
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> StubServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def kill(self) -> None:
        self.dead = True
        threading.Thread(target=self.__exit__, daemon=True).start()  # (shutdown blocks: not in a handler thread)

    def next_fault(self) -> str | None:
        with self._lock:
            if self.faults:
                return self.faults.popleft()
            u, edge = self._rng.random(), 0.0
            for fault, p in self.fault_mix.items():
                edge += p
                if u < edge:
                    return fault
            return None

    def admit(self) -> int:
        """Wait for this request's turn and a free slot; the number of requests in service, this one included."""
        with self._admission:
            ticket, self._tickets = self._tickets, self._tickets + 1
            self._admission.wait_for(lambda: self._next == ticket and (not self.slots or self.in_service < self.slots))
            self._next += 1
            self.in_service += 1
            self._admission.notify_all()
            return self.in_service

    def release(self) -> None:
        with self._admission:
            self.in_service -= 1
            self._admission.notify_all()

    def slowdown(self, n: int | None = None) -> float:
        return 1.0 + self.share * ((self.in_service if n is None else n) - 1)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, code: int, obj: Any) -> None:
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _authorised(self) -> bool:
                if stub.api_key and self.headers.get("Authorization") != f"Bearer {stub.api_key}":
                    self._json(401, {"error": {"message": "bad key"}})
                    return False
                return True

            def do_GET(self) -> None:
                if not self._authorised():
                    return
                if self.path == "/v1/models":
                    self._json(200, {"object": "list", "data": [{"id": stub.model, "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                if not self._authorised():
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if not stub.dead and stub.kill_after is not None and len(stub.requests) >= stub.kill_after:
                    stub.kill()
                if stub.dead:
                    self.close_connection = True  # no answer at all
                    return
                stub.requests.append({"path": self.path, **body})
                fault = stub.next_fault()
                if fault == "429-retry-after":
                    body_bytes = json.dumps({"error": {"message": "slow down"}}).encode()
                    self.send_response(429)
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", str(len(body_bytes)))
                    self.end_headers()
                    self.wfile.write(body_bytes)
                    return
                if fault == "echo-auth":
                    self._json(500, {"error": {"message": f"upstream refused: {self.headers.get('Authorization')}"}})
                    return
                if fault and fault.isdigit():
                    self._json(int(fault), {"error": {"message": f"injected {fault}"}})
                    return
                if fault == "hang":
                    time.sleep(3)
                    return
                if body.get("model") != stub.model:
                    self._json(404, {"error": {"message": f"The model `{body.get('model')}` does not exist."}})
                    return
                if body.get("echo") and stub.scoring:
                    self._json(200, {"choices": [{"text": body["prompt"], "logprobs": _echo_logprobs(body["prompt"])}]})
                    return
                if body.get("echo"):
                    self._json(400, {"error": {"message": "echo is not supported"}})
                    return
                with stub._slots or contextlib.nullcontext():
                    self._stream(
                        body, drop=fault == "drop", delay=1.0 if fault == "hiccup" else 0.0, garble=fault == "malformed"
                    )

            def _stream(self, body: dict[str, Any], drop: bool, delay: float = 0.0, garble: bool = False) -> None:
                chat = self.path.endswith("/chat/completions")
                text = " ".join(m["content"] for m in body["messages"]) if chat else body["prompt"]
                p = len(text.split())
                n = body["max_tokens"] if body.get("ignore_eos") else min(body["max_tokens"], stub.answer_tokens)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                slowdown = stub.slowdown(stub.admit())  # the wait for a slot is part of the TTFT
                due = time.perf_counter() + delay + (stub.b0 + stub.b1 * max(0, p - stub.flat)) * slowdown
                held = [True]

                def free() -> None:  # once, before the last token: the client's next request finds the slot free
                    if held:
                        held.pop()
                        stub.release()

                try:
                    self._tokens(body, (chat, n, p), due, (drop, garble), free)
                finally:
                    free()

            def _tokens(
                self,
                body: dict[str, Any],
                shape: tuple[bool, int, int],
                due: float,
                faults: tuple[bool, bool],
                free: Any,
            ) -> None:
                (chat, n, p), (drop, garble) = shape, faults
                words = (" ".join(m["content"] for m in body["messages"]) if chat else body["prompt"]).split()
                for i in range(n):
                    if i:
                        due += stub.k * stub.slowdown()
                    time.sleep(max(0.0, due - time.perf_counter()))
                    if (drop and i == n // 2) or stub.dead:
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    if garble and i == n // 2:
                        self.wfile.write(b'data: {"choices": [{"text": " tok\n\n')
                        self.wfile.flush()
                    piece = f" {words[i % p]}" if stub.echo else f" tok{i}"
                    choice = {"index": 0, "delta": {"content": piece}} if chat else {"index": 0, "text": piece}
                    last = i == n - 1
                    if last:
                        free()
                    choice["finish_reason"] = ("length" if n == body["max_tokens"] else "stop") if last else None
                    self._event({"choices": [choice]})
                self._event({"choices": [], "usage": {"prompt_tokens": p, "completion_tokens": n}})
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _event(self, obj: Any) -> None:
                self.wfile.write(b"data: " + json.dumps(obj).encode() + b"\n\n")
                self.wfile.flush()

        return Handler


def _echo_logprobs(text: str) -> dict[str, Any]:
    """Words as tokens (with their leading space), each with a log-prob fixed by its letters."""
    import re
    import zlib

    words = [(m.start(), m.group()) for m in re.finditer(r"\s*\S+", text)]
    return {
        "text_offset": [o for o, _ in words],
        "tokens": [w for _, w in words],
        "token_logprobs": [None] + [-(zlib.crc32(w.encode()) % 1000) / 100 for _, w in words[1:]],
    }
