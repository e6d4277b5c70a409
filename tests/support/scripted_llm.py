"""A local LLM server with a KNOWN token schedule, for measuring load testers and clients.

Speaks OpenAI `/v1/chat/completions` and `/v1/completions` (SSE streaming or not, with
`stream_options.include_usage`) and SGLang's native `/generate` (SSE with cumulative text
and `meta_info`), plus `/health`, `/v1/models`, `/get_model_info` and `/stats`.

The schedule, measured from the moment a request has been fully read (t0):
  * an optional role-only chunk at t0;
  * the first content chunk at t0 + ttft;
  * every later chunk when its last token is due: a chunk ending at token e (1-based,
    cumulative) is sent at t0 + ttft + (e - k0) * itl, k0 being the first chunk's tokens.
    So a chunk carrying k tokens follows the previous one by exactly k * itl.
Deadlines are absolute (loop.call_at on t0 + offset), so delays never accumulate. t0 is
the kernel's arrival stamp of the request's last bytes (SO_TIMESTAMPNS) where available,
so the server's own wake-up delay on a crowded machine is inside the schedule.

Tokens are the words " w<i>" so a whitespace tokenizer counts them exactly; prompt tokens
are the whitespace-separated words of the prompt.

A raw asyncio protocol (HTTP/1.1, keep-alive, chunked), `--uvloop` on request, and
`--workers N` processes sharing the port (SO_REUSEPORT), so it serves hundreds of
streaming requests per second without becoming the thing under test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from shared.process import free_port
from shared.rx_stamps import StampedListener, stamped_socket_of

REPO_ROOT = Path(__file__).resolve().parents[2]

__all__ = ["ScriptConfig", "ScriptedServer", "start_scripted_llm", "schedule_offsets"]


@dataclass
class ScriptConfig:
    model: str = "scripted"
    ttft_ms: float = 100.0
    itl_ms: float = 10.0
    output_tokens: int | None = None  # None: the request's max_tokens / max_new_tokens
    default_output_tokens: int = 16
    tokens_per_chunk: int = 1
    role_chunk: bool = True  # OpenAI chat: a role-only first chunk at t0
    usage: bool = True  # honour stream_options.include_usage (and usage in JSON bodies)
    latency_ms: float | None = None  # non-streaming reply delay; None: ttft + (n-1)*itl
    error_rate: float = 0.0  # fraction of requests answered with error_status
    error_status: int = 500
    midstream_error_rate: float = 0.0  # fraction of streams that fail after fail_after_tokens
    fail_after_tokens: int = 2
    midstream_mode: str = "abort"  # abort: drop the connection; event: an SSE error event
    streaming: bool = True  # False: a server that ignores stream=true and answers in one body
    malformed_rate: float = 0.0  # fraction of streams that carry one malformed SSE event
    seed: int = 0


def schedule_offsets(n_tokens: int, cfg: ScriptConfig) -> list[tuple[float, int]]:
    """(seconds after t0, tokens in the chunk) for each content chunk."""
    k = max(1, cfg.tokens_per_chunk)
    sizes = [k] * (n_tokens // k) + ([n_tokens % k] if n_tokens % k else [])
    out: list[tuple[float, int]] = []
    end = 0
    for size in sizes:
        end += size
        out.append(((cfg.ttft_ms + (end - sizes[0]) * cfg.itl_ms) / 1000.0, size))
    return out


# ---------------------------------------------------------------- HTTP plumbing

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable"}


def _head(status: int, ctype: str, length: int | None) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: {ctype}\r\n"
            f"{framing}\r\nConnection: keep-alive\r\n\r\n").encode()


def _chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _sse(obj: Any) -> bytes:
    return _chunk(b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n")


_DONE = _chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n"


class _Stats:
    """Server-side truth: when chunks actually left, relative to t0."""

    def __init__(self) -> None:
        self.requests = 0
        self.first_send_ms: list[float] = []
        self.gap_ms: list[float] = []  # per token: chunk gap / tokens in the chunk
        self.log: list[tuple[float, float]] = []  # (t0, first send) on the shared monotonic clock

    def summary(self, with_log: bool = False) -> dict[str, Any]:
        def pct(xs: list[float], q: float) -> float | None:
            if not xs:
                return None
            s = sorted(xs)
            return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]
        return {"requests": self.requests,
                "first_send_ms": {"p50": pct(self.first_send_ms, 0.5), "p99": pct(self.first_send_ms, 0.99)},
                "gap_ms": {"p50": pct(self.gap_ms, 0.5), "p99": pct(self.gap_ms, 0.99)},
                **({"log": self.log} if with_log else {})}


class _Request:
    __slots__ = ("method", "path", "body", "t0")

    def __init__(self, method: str, path: str, body: bytes, t0: float) -> None:
        self.method, self.path, self.body, self.t0 = method, path, body, t0


class _Conn(asyncio.Protocol):
    def __init__(self, app: ScriptedApp) -> None:
        self.app = app
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.queue: list[_Request] = []
        self.busy = False
        self.sock: Any = None

    def arrival(self) -> float:
        """When the request's bytes arrived, on the loop's clock."""
        now = self.app.loop.time()
        stamp = self.sock.last_rx if self.sock is not None else None
        if stamp is None:
            return now
        stamp += time.monotonic() - time.perf_counter()  # both CLOCK_MONOTONIC on Linux: ~0
        return stamp if now - 1.0 < stamp <= now else now

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.sock = stamped_socket_of(transport)
        with contextlib.suppress(OSError, AttributeError):
            transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1").split("\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip() or 0)
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4:end + 4 + length]
            self.buf = self.buf[end + 4 + length:]
            parts = head[0].split(" ")
            req = _Request(parts[0], parts[1] if len(parts) > 1 else "/", body, self.arrival())
            self.queue.append(req)
            if not self.busy:
                self._next()

    def _next(self) -> None:
        if self.queue and self.transport is not None:
            self.busy = True
            self.app.handle(self, self.queue.pop(0))
        else:
            self.busy = False

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def done(self) -> None:
        self._next()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
        self.busy = False

    def reply(self, status: int, obj: Any) -> None:
        body = json.dumps(obj).encode()
        self.write(_head(status, "application/json", len(body)) + body)
        self.done()


# ---------------------------------------------------------------- the script

class ScriptedApp:
    def __init__(self, cfg: ScriptConfig, loop: asyncio.AbstractEventLoop) -> None:
        self.cfg = cfg
        self.loop = loop
        self.rng = random.Random(cfg.seed)
        self.stats = _Stats()
        self.counter = 0

    def handle(self, conn: _Conn, req: _Request) -> None:
        route = {"/health": self._health, "/v1/models": self._models, "/get_model_info": self._model_info,
                 "/stats": self._stats, "/script": self._script,
                 "/v1/chat/completions": self._generate, "/v1/completions": self._generate,
                 "/generate": self._generate}.get(req.path.split("?")[0])
        if route is None:
            return conn.reply(404, {"error": {"message": f"no route {req.path}", "type": "not_found"}})
        route(conn, req)

    def _health(self, conn: _Conn, req: _Request) -> None:
        conn.reply(200, {"status": "ok"})

    def _models(self, conn: _Conn, req: _Request) -> None:
        conn.reply(200, {"object": "list", "data": [{"id": self.cfg.model, "object": "model", "owned_by": "scripted"}]})

    def _model_info(self, conn: _Conn, req: _Request) -> None:
        conn.reply(200, {"model_path": self.cfg.model, "tokenizer_path": self.cfg.model, "is_generation": True})

    def _stats(self, conn: _Conn, req: _Request) -> None:
        if req.method == "DELETE":
            self.stats = _Stats()
        conn.reply(200, self.stats.summary(with_log="log=1" in req.path))

    def _script(self, conn: _Conn, req: _Request) -> None:
        """POST /script {"error_rate": 1.0}: change a running server's script (this worker's),
        e.g. to make it start failing mid-run; unknown fields are a 400."""
        changes = json.loads(req.body or b"{}") if req.method == "POST" else {}
        unknown = set(changes) - {f.name for f in fields(ScriptConfig)}
        if unknown:
            return conn.reply(400, {"error": {"message": f"unknown fields {sorted(unknown)}", "type": "invalid"}})
        for name, value in changes.items():
            setattr(self.cfg, name, value)
        conn.reply(200, {f.name: getattr(self.cfg, f.name) for f in fields(ScriptConfig)})

    def _generate(self, conn: _Conn, req: _Request) -> None:
        if req.method != "POST":
            return conn.reply(405, {"error": {"message": "POST only", "type": "invalid_request_error"}})
        try:
            body = json.loads(req.body or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
        except ValueError as exc:
            return conn.reply(400, {"error": {"message": f"bad JSON: {exc}", "type": "invalid_request_error"}})
        self.stats.requests += 1
        self.counter += 1
        if self.cfg.error_rate and self.rng.random() < self.cfg.error_rate:
            return conn.reply(self.cfg.error_status, {"error": {"message": "injected error", "type": "server_error"}})
        job = _Job(self, conn, req, body, f"scripted-{os.getpid()}-{self.counter}")
        if body.get("stream") and self.cfg.streaming:
            job.stream()
        else:
            job.whole()


class _Job:
    """One generation request: its protocol, its token count and its schedule."""

    def __init__(self, app: ScriptedApp, conn: _Conn, req: _Request, body: dict[str, Any], rid: str) -> None:
        self.app, self.conn, self.req, self.body, self.rid = app, conn, req, body, rid
        self.kind = {"/v1/chat/completions": "chat", "/v1/completions": "completion"}.get(
            req.path.split("?")[0], "sglang")
        cfg = app.cfg
        self.n = cfg.output_tokens or self._asked_tokens() or cfg.default_output_tokens
        self.prompt_tokens = len(self._prompt_text().split())
        self.include_usage = cfg.usage and bool((body.get("stream_options") or {}).get("include_usage"))
        self.text = ""
        self.sent_tokens = 0
        self.last_send = 0.0
        rng = app.rng
        self.fail_at = (cfg.fail_after_tokens if cfg.midstream_error_rate and rng.random() < cfg.midstream_error_rate
                        else None)
        self.malformed_at = (rng.randrange(max(1, len(schedule_offsets(self.n, cfg))))
                             if cfg.malformed_rate and rng.random() < cfg.malformed_rate else None)

    def _asked_tokens(self) -> int | None:
        if self.kind == "sglang":
            return (self.body.get("sampling_params") or {}).get("max_new_tokens")
        return self.body.get("max_completion_tokens") or self.body.get("max_tokens")

    def _prompt_text(self) -> str:
        if self.kind == "chat":
            msgs = self.body.get("messages") or []
            return " ".join(str(m.get("content", "")) for m in msgs if isinstance(m, dict))
        prompt = self.body.get("prompt" if self.kind == "completion" else "text", "")
        return prompt if isinstance(prompt, str) else " ".join(map(str, prompt))

    def _tokens(self, start: int, count: int) -> str:
        return "".join(f" w{i}" for i in range(start, start + count))

    def _usage(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.n,
                "total_tokens": self.prompt_tokens + self.n}

    # ---- non-streaming
    def whole(self) -> None:
        cfg = self.app.cfg
        delay = cfg.latency_ms if cfg.latency_ms is not None else cfg.ttft_ms + max(0, self.n - 1) * cfg.itl_ms
        self.app.loop.call_at(self.req.t0 + delay / 1000.0, self._send_whole)

    def _send_whole(self) -> None:
        text = self._tokens(0, self.n)
        if self.kind == "sglang":
            obj: dict[str, Any] = {"text": text, "meta_info": self._meta(self.n, final=True)}
        else:
            choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}
                      if self.kind == "chat" else {"index": 0, "text": text, "finish_reason": "length"})
            obj = {"id": self.rid, "object": "chat.completion" if self.kind == "chat" else "text_completion",
                   "created": int(time.time()), "model": self.app.cfg.model, "choices": [choice]}
            if self.app.cfg.usage:
                obj["usage"] = self._usage()
        self.conn.reply(200, obj)

    # ---- streaming
    def stream(self) -> None:
        self.conn.write(_head(200, "text/event-stream", None))
        if self.kind == "chat" and self.app.cfg.role_chunk:
            self.conn.write(self._oai_chunk({"role": "assistant", "content": ""}, None))
        t0, loop = self.req.t0, self.app.loop
        for i, (offset, size) in enumerate(schedule_offsets(self.n, self.app.cfg)):
            loop.call_at(t0 + offset, self._emit, i, size)

    def _emit(self, index: int, size: int) -> None:
        if self.conn.transport is None or self.sent_tokens < 0:
            return
        now = self.app.loop.time()
        stats = self.app.stats
        if index == 0:
            stats.first_send_ms.append((now - self.req.t0) * 1000.0)
            stats.log.append((self.req.t0, now))
        else:
            stats.gap_ms.extend([(now - self.last_send) * 1000.0 / size] * size)
        self.last_send = now
        if self.fail_at is not None and self.sent_tokens >= self.fail_at:
            return self._fail()
        piece = self._tokens(self.sent_tokens, size)
        self.sent_tokens += size
        self.text += piece
        final = self.sent_tokens >= self.n
        if self.malformed_at == index:
            self.conn.write(_chunk(b'data: {"choices": [{"delta": {"content": "' + piece.encode() + b'"\n\n'))
        elif self.kind == "sglang":
            self.conn.write(_sse({"text": self.text, "meta_info": self._meta(self.sent_tokens, final)}))
        elif self.kind == "chat":
            self.conn.write(self._oai_chunk({"content": piece}, "length" if final else None))
        else:
            self.conn.write(self._oai_chunk(None, "length" if final else None, text=piece))
        if final:
            self._finish()

    def _fail(self) -> None:
        self.sent_tokens = -1
        if self.app.cfg.midstream_mode == "event":
            self.conn.write(_sse({"error": {"message": "injected mid-stream failure", "type": "server_error",
                                            "code": self.app.cfg.error_status}}) + _DONE)
            self.conn.done()
        else:
            self.conn.abort()

    def _finish(self) -> None:
        if self.include_usage and self.kind != "sglang":
            self.conn.write(_sse({"id": self.rid, "object": self._object(), "created": int(time.time()),
                                  "model": self.app.cfg.model, "choices": [], "usage": self._usage()}))
        self.conn.write(_DONE)
        self.conn.done()

    def _object(self) -> str:
        return "chat.completion.chunk" if self.kind == "chat" else "text_completion"

    def _oai_chunk(self, delta: dict[str, Any] | None, finish: str | None, text: str | None = None) -> bytes:
        choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
        if delta is not None:
            choice["delta"] = delta
        else:
            choice["text"] = text
        obj: dict[str, Any] = {"id": self.rid, "object": self._object(), "created": int(time.time()),
                               "model": self.app.cfg.model, "choices": [choice]}
        if self.include_usage:
            obj["usage"] = None
        return _sse(obj)

    def _meta(self, completion_tokens: int, final: bool) -> dict[str, Any]:
        return {"id": self.rid, "prompt_tokens": self.prompt_tokens, "completion_tokens": completion_tokens,
                "finish_reason": {"type": "length", "length": self.n} if final else None,
                "e2e_latency": self.app.loop.time() - self.req.t0}


# ---------------------------------------------------------------- running it

def _listen_socket(host: str, port: int) -> socket.socket:
    sock = StampedListener(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def _new_loop(fast: bool) -> asyncio.AbstractEventLoop:
    """uvloop only on request: its clock and timers tick in whole milliseconds, the default
    loop's follow time.monotonic(), so the schedule stays sub-millisecond accurate."""
    if fast:
        with contextlib.suppress(ImportError):
            import uvloop

            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


async def _serve_forever(cfg: ScriptConfig, sock: socket.socket, ready: asyncio.Event | None = None) -> None:
    loop = asyncio.get_running_loop()
    app = ScriptedApp(cfg, loop)
    server = await loop.create_server(lambda: _Conn(app), sock=sock)
    if ready is not None:
        ready.set()
    async with server:
        await server.serve_forever()


def run(cfg: ScriptConfig, host: str, port: int, fast: bool = False) -> None:
    loop = _new_loop(fast)
    sock = _listen_socket(host, port)
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, loop.stop)
    task = loop.create_task(_serve_forever(cfg, sock))
    try:
        loop.run_forever()
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            loop.run_until_complete(task)
        loop.close()


def to_args(cfg: ScriptConfig) -> list[str]:
    args: list[str] = []
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + flag[2:])
        elif value is not None:
            args += [flag, str(value)]
    return args


class ScriptedServer:
    """A scripted server in its own process(es): `url`, `stats()`, `stop()`; a context manager."""

    def __init__(self, cfg: ScriptConfig, workers: int = 1, port: int | None = None,
                 cpu: int | None = None) -> None:
        self.cfg = cfg
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "tests.support.scripted_llm", "--port", str(self.port),
               "--workers", str(workers), *to_args(cfg)]
        if cpu is not None:
            cmd = ["taskset", "-c", str(cpu), *cmd]
        # From the repository root: `tests` is not installed, so `-m tests.support...` resolves there.
        self.proc = subprocess.Popen(cmd, start_new_session=True, cwd=REPO_ROOT)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"scripted server exited with {self.proc.returncode}")
            with contextlib.suppress(OSError), urllib.request.urlopen(self.url + "/health", timeout=1):
                return
            time.sleep(0.05)
        self.stop()
        raise TimeoutError("scripted server did not become healthy")

    def stats(self, reset: bool = False, log: bool = False) -> dict[str, Any]:
        """Server-side truth; with `log`, (t0, first send) per request on time.monotonic()."""
        url = self.url + "/stats" + ("?log=1" if log else "")
        req = urllib.request.Request(url, method="DELETE" if reset else "GET")
        with urllib.request.urlopen(req, timeout=5) as resp:
            return dict(json.loads(resp.read()))

    def script(self, **changes: Any) -> dict[str, Any]:
        """Change the running server's script, e.g. `script(error_rate=1.0)` (one worker only)."""
        req = urllib.request.Request(self.url + "/script", data=json.dumps(changes).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            return dict(json.loads(resp.read()))

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_scripted_llm(workers: int = 1, cpu: int | None = None, **config: Any) -> ScriptedServer:
    """Start a scripted server on a free port in a separate process; returns it (use `.url`)."""
    return ScriptedServer(ScriptConfig(**config), workers=workers, cpu=cpu)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tests.support.scripted_llm", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8399)
    p.add_argument("--workers", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)")
    p.add_argument("--uvloop", action="store_true", help="faster loop, but millisecond timer resolution")
    for f in fields(ScriptConfig):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(ScriptConfig(), f.name)
        if isinstance(default, bool):
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default)
        else:
            kind = {"int": int, "float": float}.get(str(f.type).split(" ")[0], str)
            p.add_argument(flag, dest=f.name, type=kind, default=default)
    return p


def main(argv: list[str] | None = None) -> None:
    ns = _parser().parse_args(argv)
    cfg = ScriptConfig(**{f.name: getattr(ns, f.name) for f in fields(ScriptConfig)})
    children = [subprocess.Popen([sys.executable, "-m", "tests.support.scripted_llm", "--host", ns.host,
                                  "--port", str(ns.port), "--workers", "1", *to_args(cfg)]
                                 + (["--uvloop"] if ns.uvloop else []))
                for _ in range(ns.workers - 1)]
    try:
        run(cfg, ns.host, ns.port, ns.uvloop)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait()


if __name__ == "__main__":
    main()
