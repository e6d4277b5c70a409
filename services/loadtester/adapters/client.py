"""The streaming HTTP client: one request in, one RequestRecord out. Never raises for a
bad server; every failure becomes an error type on the record.

Its own client, not the engine client (`shared.engines.client`), for timing reasons: each read
is stamped with the kernel's receive time (shared.rx_stamps) on sockets made for that, the send
time is that of the send syscall that wrote the request's last bytes, failures are recorded per
request and never retried (a retry would hide what users see), and chunks are read as they come
(`readany`, no per-line async iteration) to keep per-chunk overhead low. Where stamps are not
available, time.perf_counter() when the bytes reach us.

The SSE is read with the one parser (`shared.engines.sse`): each read is stamped before it is
parsed, so parsing moves no stamp.
"""

from __future__ import annotations

import json
from time import perf_counter
from typing import Any

import aiohttp

from services.loadtester.adapters.protocols import Protocol
from services.loadtester.domain.records import RequestRecord
from services.loadtester.domain.tokens import from_cumulative, split_tokens
from shared.engines.sse import DONE, complete_lines, sse_data
from shared.engines.types import EngineError
from shared.rx_stamps import stamped_socket_factory, stamped_socket_of


def new_session(timeout_s: float = 600.0) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, force_close=False,
                                     socket_factory=stamped_socket_factory)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s),
                                 auto_decompress=False, skip_auto_headers=("User-Agent",))


class _Stream:
    """State of one SSE response while it is read."""

    def __init__(self, proto: Protocol, rec: RequestRecord) -> None:
        self.proto, self.rec = proto, rec
        self.buf = b""
        self.text = ""
        self.chars: list[int] = []
        self.cumulative: list[int] = []
        self.completion_tokens: int | None = None
        self.done = False

    def feed(self, data: bytes, now: float) -> None:
        lines, self.buf = complete_lines(self.buf + data)
        for line in lines:
            try:
                obj = sse_data(line)
            except EngineError:
                self.rec.error = self.rec.error or "malformed_sse"
                continue
            if obj is DONE:
                self.done = True
            elif obj is not None:
                self._event(obj, now)

    def _event(self, obj: dict[str, Any], now: float) -> None:
        ev = self.proto.parse(obj, self.text)
        if ev.error:
            self.rec.error = self.rec.error or ev.error
        if ev.completion_tokens is not None:
            self.completion_tokens = ev.completion_tokens
        if ev.prompt_tokens is not None:
            self.rec.input_tokens = ev.prompt_tokens
        if ev.text:
            self.text += ev.text
            self.rec.chunk_times.append(now)
            self.chars.append(len(ev.text))
            if ev.cumulative_tokens is not None:
                self.cumulative.append(ev.cumulative_tokens)

    def finish(self) -> None:
        rec = self.rec
        if self.cumulative and len(self.cumulative) == len(self.chars):
            rec.chunk_tokens = from_cumulative(self.cumulative)
        else:
            rec.chunk_tokens = split_tokens(self.chars, self.completion_tokens)
        rec.tokens_from_usage = self.completion_tokens is not None
        rec.output_tokens = self.completion_tokens or len(self.chars)
        rec.output = self.text


async def send(session: aiohttp.ClientSession, base_url: str, proto: Protocol, body: bytes,
               rec: RequestRecord, headers: dict[str, str] | None = None) -> RequestRecord:
    rec.sent = perf_counter()
    try:
        async with session.post(base_url + proto.path, data=body, headers=headers) as resp:
            _on_the_wire(resp, rec)
            if resp.status != 200:
                await resp.read()
                rec.error = f"http_{resp.status}"
            elif not resp.headers.get("Content-Type", "").startswith("text/event-stream"):
                await _whole(resp, proto, rec)
            else:
                await _stream(resp, proto, rec)
    except (aiohttp.ClientConnectorError, ConnectionRefusedError):
        rec.error = "connect"
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
        rec.error = "stream_broken"
    except TimeoutError:
        rec.error = "timeout"
    except aiohttp.ClientError as exc:
        rec.error = type(exc).__name__
    rec.end = perf_counter()
    return rec


def _on_the_wire(resp: aiohttp.ClientResponse, rec: RequestRecord) -> None:
    """`sent` moves to when the request's last bytes went to the kernel: connection set-up and
    the event loop's delay before writing are the client's, not the server's (they show in
    the dispatch lag instead). The server's clock starts at the same moment."""
    sock = stamped_socket_of(resp)
    tx = sock.last_tx if sock is not None else None
    if tx is not None and rec.sent <= tx <= perf_counter():
        rec.sent = tx


async def _stream(resp: aiohttp.ClientResponse, proto: Protocol, rec: RequestRecord) -> None:
    state = _Stream(proto, rec)
    content = resp.content
    sock = stamped_socket_of(resp)
    try:
        while True:
            data = await content.readany()
            if not data:
                break
            now = perf_counter()
            stamp = sock.last_rx if sock is not None else None
            state.feed(data, stamp if stamp is not None and rec.sent < stamp <= now else now)
    finally:
        state.finish()
    if not state.done and rec.error is None:
        rec.error = "incomplete_stream"


async def _whole(resp: aiohttp.ClientResponse, proto: Protocol, rec: RequestRecord) -> None:
    """A server that ignored stream=true: we cannot see tokens arrive, so TTFT/ITL are
    unknown. The request counts as a `not_streaming` error."""
    raw = await resp.read()
    rec.error = "not_streaming"
    try:
        obj = json.loads(raw)
        usage = obj.get("usage") or {}
        rec.output_tokens = int(usage.get("completion_tokens") or 0)
        rec.input_tokens = int(usage.get("prompt_tokens") or 0)
    except (ValueError, AttributeError, TypeError):
        rec.error = "malformed_body"


async def probe(session: aiohttp.ClientSession, base_url: str) -> str | None:
    """None when the endpoint answers at all; else why not."""
    try:
        async with session.get(base_url + "/v1/models", timeout=aiohttp.ClientTimeout(total=5)) as resp:
            await resp.read()
            return None
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
