"""A lean HTTP/1.1 client for the gateway's upstream calls: keep-alive connections per base
URL, requests written in one send, responses parsed by httptools (llhttp, as uvicorn does),
bodies handed over as they arrive.

Why not aiohttp: its request and response objects, timers and stream readers were ~17 % of
the gateway's CPU per proxied request (py-spy, `make bench-gateway`); the gateway needs a
POST with a small body, the status, two headers and the body pieces, nothing more.

Timeouts are loop timers, not tasks: `timeout_s` bounds the whole answer of a call that
reads it whole, and each gap between body pieces of a stream; `connect_timeout_s` bounds
opening a connection. A connection that is closed, half-read or marked `Connection: close`
is never reused; a reused connection that fails before any byte of the answer (the server
closed it while idle) is retried once on a new one.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

import httptools

IDLE_S = 30.0  # an idle connection older than this is closed rather than reused


class StaleConnection(ConnectionError):
    """A reused connection failed before any byte of the answer arrived."""


class _Conn(asyncio.Protocol):
    """One connection; one request at a time."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.error: BaseException | None = None
        self.pieces: deque[bytes] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.timer: asyncio.TimerHandle | None = None

    # ---- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"unparseable answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.pool.forget(self)
        framed = "content-length" in self.headers or "chunked" in self.headers.get("transfer-encoding", "")
        if self.head_done and not self.complete and not framed:
            self.on_message_complete()  # a body delimited by the end of the connection
        elif not self.complete:
            self._fail(exc or ConnectionResetError("the upstream closed the connection"))

    # ---- httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.head_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.pieces.append(body)
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()  # asked now: the parser resets for the next message
        self._wake()

    # ---- waiting
    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def arm(self, timeout_s: float) -> None:
        """(Re)start the timer that fails the call after `timeout_s` without progress."""
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.pool.loop.call_later(timeout_s, self._timed_out)

    def _timed_out(self) -> None:
        self._fail(TimeoutError("no answer in time"))
        self.close()

    async def wait(self, ready: Callable[[], bool]) -> None:
        while not ready():
            if self.error is not None:
                raise self.error
            self.waiter = self.pool.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        self.pool.forget(self)


class Response:
    """An answer being read: status and headers first, then the body piece by piece."""

    def __init__(self, conn: _Conn, timeout_s: float, per_piece: bool) -> None:
        self._conn = conn
        self._timeout_s = timeout_s
        self._per_piece = per_piece
        self.status = conn.status
        self.headers = conn.headers
        self._released = False

    async def readany(self) -> bytes:
        """The next piece of the body as it arrived, b"" at its end."""
        conn = self._conn
        await conn.wait(lambda: bool(conn.pieces) or conn.complete)
        if self._per_piece and not conn.complete:
            conn.arm(self._timeout_s)
        return conn.pieces.popleft() if conn.pieces else b""

    async def read(self) -> bytes:
        conn = self._conn
        await conn.wait(lambda: conn.complete)
        body = b"".join(conn.pieces)
        conn.pieces.clear()
        return body

    def release(self) -> None:
        """Done with this answer: the connection goes back to the pool if it can be reused.
        Once: a second call does nothing (the connection may already serve another request)."""
        if self._released:
            return
        self._released = True
        conn = self._conn
        if conn.timer is not None:
            conn.timer.cancel()
        if conn.complete and conn.error is None and conn.transport is not None and conn.keep_alive:
            self._conn.pool.give_back(conn)
        else:
            conn.close()


class Pool:
    """Keep-alive connections to one base URL (http or https)."""

    def __init__(self, base_url: str, connect_timeout_s: float) -> None:
        parts = urlsplit(base_url)
        self.loop = asyncio.get_running_loop()
        self.host = parts.hostname or "127.0.0.1"
        self.tls = ssl.create_default_context() if parts.scheme == "https" else None
        self.port = parts.port or (443 if self.tls else 80)
        self.prefix = parts.path.rstrip("/")
        default_port = self.port == (443 if self.tls else 80)
        self.host_header = self.host if default_port else f"{self.host}:{self.port}"
        self.connect_timeout_s = connect_timeout_s
        self.idle: list[_Conn] = []
        self.open: set[_Conn] = set()

    async def request(self, path: str, body: bytes, headers: dict[str, str], timeout_s: float, *,
                      stream: bool) -> Response:
        """POST `body`; returns once the status and headers are in. `stream`: the timeout
        bounds each gap between body pieces, else the whole answer."""
        head = self._head(path, len(body), headers)
        conn, reused = await self._acquire()
        try:
            return await self._exchange(conn, head + body, timeout_s, stream, reused)
        except StaleConnection:
            conn, _ = await self._acquire(fresh=True)
            return await self._exchange(conn, head + body, timeout_s, stream, False)

    async def _exchange(self, conn: _Conn, request: bytes, timeout_s: float, stream: bool,
                        reused: bool) -> Response:
        conn._reset()
        conn.arm(timeout_s)
        assert conn.transport is not None
        conn.transport.write(request)
        try:
            await conn.wait(lambda: conn.head_done)
        except ConnectionError as exc:
            conn.close()
            if reused and not conn.head_done:
                raise StaleConnection(str(exc)) from exc
            raise
        except BaseException:
            conn.close()
            raise
        if stream:
            conn.arm(timeout_s)
        return Response(conn, timeout_s, per_piece=stream)

    def _head(self, path: str, length: int, headers: dict[str, str]) -> bytes:
        lines = [f"POST {self.prefix}{path} HTTP/1.1", f"Host: {self.host_header}", f"Content-Length: {length}"]
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise ValueError(f"header {name!r} holds a line break")
            lines.append(f"{name}: {value}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _acquire(self, fresh: bool = False) -> tuple[_Conn, bool]:
        now = time.monotonic()
        while self.idle and not fresh:
            conn = self.idle.pop()
            if conn.transport is not None and not conn.transport.is_closing() and now - conn.idle_since < IDLE_S:
                return conn, True
            conn.close()
        async with asyncio.timeout(self.connect_timeout_s):
            _, conn = await self.loop.create_connection(lambda: _Conn(self), self.host, self.port, ssl=self.tls,
                                                        server_hostname=self.host if self.tls else None)
        conn.idle_since = 0.0
        self.open.add(conn)
        return conn, False

    def give_back(self, conn: _Conn) -> None:
        conn.idle_since = time.monotonic()
        self.idle.append(conn)

    def forget(self, conn: _Conn) -> None:
        self.open.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)

    def close(self) -> None:
        for conn in list(self.open):
            conn.close()
        self.idle.clear()
