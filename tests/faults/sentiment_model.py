"""A tiny OpenAI-compatible sentiment "model" for the fault tests: instant, deterministic,
and holdable, so a test can stop the world exactly while a service is mid-work.

It knows the built-in `sentiment` dataset: the answer to a prompt is the label of the LAST
dataset review quoted in it. Two kinds:
- `instruct` answers every review correctly (a champion);
- `base` answers correctly only when the prompt also quotes another review (a few-shot demo),
  else the wrong label: a challenger that fails Dev until prompt optimization adds demos.
Prompts that quote no review (load-test filler, red-team attacks) get "positive". A model name
starting with `refusing` (a broken deployment of a good model) refuses every prompt.

`hold()` makes new requests wait until `release()`; `requests` counts what arrived, by
model name, so a test knows a service is calling it."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shared.datasets import load_builtin

LABELS = ("positive", "negative")
REFUSAL = "I'm sorry, I can't help with that."


class SentimentModel:
    def __init__(self) -> None:
        self.labels = {str(i.input): str(i.expected) for i in load_builtin("sentiment")}
        self.requests: Counter[str] = Counter()
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self._hold_after: dict[str, int] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> SentimentModel:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def hold(self, model: str | None = None, after: int = 0) -> None:
        """Make requests wait: all from now on, or (given a model) those past its `after`-th."""
        with self._lock:
            if model is None:
                self._open.clear()
            else:
                self._hold_after[model] = after

    def release(self) -> None:
        with self._lock:
            self._hold_after.clear()
            self._open.set()

    def count(self, model: str) -> int:
        with self._lock:
            return self.requests[model]

    def wait_for_requests(self, model: str, at_least: int, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.count(model) < at_least:
            if time.monotonic() > deadline:
                raise AssertionError(f"model {model!r} got {self.count(model)} < {at_least} requests "
                                     f"in {timeout_s:.0f}s")
            time.sleep(0.05)

    def answer(self, model: str, prompt: str) -> str:
        if model.startswith("refusing"):
            return REFUSAL
        quoted = sorted((prompt.rfind(text), label) for text, label in self.labels.items() if text in prompt)
        if not quoted:
            return "positive"
        label = quoted[-1][1]
        if model.startswith("base") and len(quoted) < 2:
            return LABELS[1 - LABELS.index(label)] if label in LABELS else "positive"
        return label

    def _arrived(self, model: str) -> None:
        with self._lock:
            self.requests[model] += 1
            if model in self._hold_after and self.requests[model] > self._hold_after[model]:
                self._open.clear()
        self._open.wait(timeout=600)


def _prompt_text(body: dict[str, Any]) -> str:
    if "messages" in body:
        return "\n".join(str(m.get("content", "")) for m in body["messages"] if isinstance(m, dict))
    prompt = body.get("prompt", "")
    return " ".join(map(str, prompt)) if isinstance(prompt, list) else str(prompt)


def _handler(model: SentimentModel) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:  # noqa: N802
            if self.path.rstrip("/") in ("/health", "/v1/models", "/models"):
                self._json(200, {"object": "list", "data": [{"id": "base"}, {"id": "instruct"}]})
            else:
                self._json(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("content-length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                self._json(400, {"error": "bad json"})
                return
            chat = self.path.endswith("/chat/completions")
            if not chat and not self.path.endswith("/completions"):
                self._json(404, {"error": "not found"})
                return
            name = str(body.get("model", ""))
            model._arrived(name)
            text = model.answer(name, _prompt_text(body))
            usage = {"prompt_tokens": len(_prompt_text(body).split()), "completion_tokens": 1, "total_tokens": 0}
            if body.get("stream"):
                self._stream(chat, name, text, usage)
            else:
                choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                          if chat else {"index": 0, "text": text, "finish_reason": "stop"})
                self._json(200, {"id": "x", "object": "chat.completion" if chat else "text_completion",
                                 "model": name, "choices": [choice], "usage": usage})

        def _stream(self, chat: bool, name: str, text: str, usage: dict[str, int]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            kind = "chat.completion.chunk" if chat else "text_completion"
            piece = {"index": 0, "delta": {"content": text}, "finish_reason": "stop"} if chat else \
                {"index": 0, "text": text, "finish_reason": "stop"}
            for chunk in ({"id": "x", "object": kind, "model": name, "choices": [piece]},
                          {"id": "x", "object": kind, "model": name, "choices": [], "usage": usage}):
                self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

        def _json(self, status: int, obj: dict[str, Any]) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
