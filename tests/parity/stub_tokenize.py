"""A stub of vLLM's prompt endpoints on 127.0.0.1, for `sftdebug parity --endpoint` tests without a server:
`/v1/models`, `/tokenize` with chat messages (rendered and encoded by a real tokenizer folder, as vLLM's chat
endpoint does) and `/v1/completions` answering a forced-token stop probe (`logit_bias`) from a given stop set.

    with TokenizeStub(folder, stops={2}) as stub:
        ... --endpoint stub.url --model stub
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class TokenizeStub:
    def __init__(
        self,
        folder: Path,
        stops: set[int],
        model: str = "stub",
        api_key: str | None = None,
        tokenize: bool = True,
        llama_cpp: bool = False,
    ) -> None:
        """`llama_cpp`: answer as llama.cpp server does (/apply-template, then /tokenize of text content)."""
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.stops, self.model, self.api_key, self.tokenize = stops, model, api_key, tokenize
        self.llama_cpp = llama_cpp
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> TokenizeStub:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        self.requests.append((path, body))
        if self.llama_cpp and path == "/apply-template":
            text = self.tokenizer.apply_chat_template(body["messages"], tokenize=False, add_generation_prompt=True)
            return 200, {"prompt": text}
        if self.llama_cpp and path == "/tokenize":  # text only: chat messages are not read, as llama.cpp does
            ids = self.tokenizer(body.get("content", ""), add_special_tokens=body.get("add_special", False))[
                "input_ids"
            ]
            return 200, {"tokens": ids}
        if path == "/tokenize" and self.tokenize:
            text = self.tokenizer.apply_chat_template(body["messages"], tokenize=False, add_generation_prompt=True)
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            return 200, {"count": len(ids), "max_model_len": 2048, "tokens": ids}
        if path == "/v1/completions":
            forced = int(next(iter(body["logit_bias"])))
            stop = forced in self.stops
            usage = {"prompt_tokens": len(body["prompt"]), "completion_tokens": 1 if stop else 2}
            return 200, {"choices": [{"text": "", "finish_reason": "stop" if stop else "length"}], "usage": usage}
        return 404, {"detail": "Not Found"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if stub.api_key and self.headers.get("Authorization") != f"Bearer {stub.api_key}":
                    self._send(401, {"error": {"message": "bad key"}})
                    return False
                return True

            def do_GET(self) -> None:
                if self._authorised():
                    models = {"object": "list", "data": [{"id": stub.model, "object": "model"}]}
                    self._send(*((200, models) if self.path == "/v1/models" else (404, {"detail": "Not Found"})))

            def do_POST(self) -> None:
                if self._authorised():
                    body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                    self._send(*stub.answer(self.path, body))

        return Handler
