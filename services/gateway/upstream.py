"""Upstream calls: one pooled aiohttp session per upstream base URL. Bodies are forwarded as
bytes and streams are relayed chunk by chunk, so every engine that speaks the OpenAI
protocol (SGLang's /v1 API, llama.cpp's server, vLLM, hosted APIs) is served alike."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

from schemas.events.deployments import RouteTarget
from services.gateway.domain import openai_body as ob

PATHS = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}
FIRST_TOKEN_WINDOW = 64 * 1024  # bytes of token-less chunks held back at most before the answer starts
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class UpstreamError(Exception):
    """An attempt that should fall back: connection refused, timeout, 5xx/429."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass
class UpstreamReply:
    status: int
    body: bytes
    content_type: str


@dataclass
class BufferedStream:
    """A stream read to its end before the client sees a byte (routes that must check the
    whole answer first), replayed as it came."""

    status: int
    content_type: str
    parts: list[bytes]

    async def chunks(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            yield part


@dataclass
class UpstreamStream:
    status: int
    content_type: str
    response: aiohttp.ClientResponse
    first: bytes

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            if self.first:
                yield self.first
            if self.status >= 400:
                return
            async for chunk in self.response.content.iter_any():
                yield chunk
        finally:
            self.response.release()

    async def buffered(self) -> BufferedStream:
        try:
            parts = [chunk async for chunk in self.chunks()]
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise UpstreamError("stream", f"broke before the end: {exc}") from exc
        return BufferedStream(self.status, self.content_type, parts)


def base_url(url: str) -> str:
    url = url.rstrip("/")
    return url[:-3] if url.endswith("/v1") else url


def _headers(target: RouteTarget, meta: dict[str, str]) -> dict[str, str]:
    headers = {"content-type": "application/json", **meta}
    if target.api_key_env and (key := os.environ.get(target.api_key_env)):
        headers["authorization"] = f"Bearer {key}"
    return headers


class Upstreams:
    def __init__(self, *, timeout_s: float, connect_timeout_s: float) -> None:
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s

    def _session(self, base: str) -> aiohttp.ClientSession:
        session = self._sessions.get(base)
        if session is None:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30, ttl_dns_cache=300)
            session = aiohttp.ClientSession(base, connector=connector, auto_decompress=False,
                                            skip_auto_headers=("User-Agent",))
            self._sessions[base] = session
        return session

    def _timeout(self, timeout_s: float | None, stream: bool) -> aiohttp.ClientTimeout:
        t = timeout_s or self._timeout_s
        # streams: the limit applies to each gap between chunks, not the whole answer
        return aiohttp.ClientTimeout(total=None if stream else t, sock_connect=self._connect_timeout_s,
                                     sock_read=t)

    async def call(self, target: RouteTarget, kind: str, body: bytes, meta: dict[str, str],
                   timeout_s: float | None = None) -> UpstreamReply:
        try:
            async with self._session(base_url(target.url)).post(
                    PATHS[kind], data=body, headers=_headers(target, meta),
                    timeout=self._timeout(timeout_s, False)) as resp:
                data = await resp.read()
                _raise_for_retryable(resp.status, data)
                return UpstreamReply(resp.status, data, resp.headers.get("content-type", "application/json"))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _as_upstream_error(exc) from exc

    async def open_stream(self, target: RouteTarget, kind: str, body: bytes, meta: dict[str, str],
                          timeout_s: float | None = None) -> UpstreamStream:
        """Open a stream and read it up to its first token (role-only chunks come first from
        many servers), so an upstream that dies before answering is found before any byte
        reaches the client, and the request can still fall back."""
        resp: aiohttp.ClientResponse | None = None
        try:
            resp = await self._session(base_url(target.url)).post(
                PATHS[kind], data=body, headers=_headers(target, meta),
                timeout=self._timeout(timeout_s, True))
            if resp.status >= 400:
                data = await resp.read()
                _raise_for_retryable(resp.status, data)
                resp.release()
                return UpstreamStream(resp.status, resp.headers.get("content-type", "application/json"), resp, data)
            first = await resp.content.readany()
            if not first:
                raise UpstreamError("protocol", "stream closed before the first chunk")
            sse = resp.content_type == "text/event-stream"
            while sse and not ob.stream_has_begun(kind, first) and len(first) < FIRST_TOKEN_WINDOW:
                more = await resp.content.readany()  # role-only chunks: hold them until the first token
                if not more:
                    raise UpstreamError("protocol", "stream closed before its first token")
                first += more
            return UpstreamStream(resp.status, resp.headers.get("content-type", "text/event-stream"), resp, first)
        except UpstreamError:
            if resp is not None:
                resp.release()
            raise
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            if resp is not None:
                resp.release()
            raise _as_upstream_error(exc) from exc

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()


def _raise_for_retryable(status: int, data: bytes) -> None:
    if status in RETRYABLE_STATUS:
        raise UpstreamError(f"http_{status}", data[:200].decode(errors="replace"))


def _as_upstream_error(exc: BaseException) -> UpstreamError:
    if isinstance(exc, asyncio.TimeoutError):
        return UpstreamError("timeout", "no answer in time")
    return UpstreamError("connection", f"{type(exc).__name__}: {exc}")
