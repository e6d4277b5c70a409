"""Upstream calls: one pool of keep-alive connections per upstream base URL (`http1.Pool`).
Bodies are forwarded as bytes and streams are relayed chunk by chunk, so every engine that
speaks the OpenAI protocol (SGLang's /v1 API, llama.cpp's server, vLLM, hosted APIs) is
served alike."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

from schemas.events.deployments import RouteTarget
from services.gateway.adapters.http1 import Pool, Response
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
    response: Response
    first: bytes

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            if self.first:
                yield self.first
            if self.status >= 400:
                return
            while chunk := await self.response.readany():
                yield chunk
        finally:
            self.response.release()

    async def buffered(self) -> BufferedStream:
        try:
            parts = [chunk async for chunk in self.chunks()]
        except (TimeoutError, OSError) as exc:
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
        self._pools: dict[str, Pool] = {}
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s

    def _pool(self, url: str) -> Pool:
        base = base_url(url)
        pool = self._pools.get(base)
        if pool is None:
            pool = self._pools[base] = Pool(base, self._connect_timeout_s)
        return pool

    async def call(self, target: RouteTarget, kind: str, body: bytes, meta: dict[str, str],
                   timeout_s: float | None = None) -> UpstreamReply:
        resp: Response | None = None
        try:
            resp = await self._pool(target.url).request(PATHS[kind], body, _headers(target, meta),
                                                        timeout_s or self._timeout_s, stream=False)
            data = await resp.read()
        except (TimeoutError, OSError, ValueError) as exc:
            raise _as_upstream_error(exc) from exc
        finally:
            if resp is not None:
                resp.release()
        _raise_for_retryable(resp.status, data)
        return UpstreamReply(resp.status, data, resp.headers.get("content-type", "application/json"))

    async def open_stream(self, target: RouteTarget, kind: str, body: bytes, meta: dict[str, str],
                          timeout_s: float | None = None) -> UpstreamStream:
        """Open a stream and read it up to its first token (role-only chunks come first from
        many servers), so an upstream that dies before answering is found before any byte
        reaches the client, and the request can still fall back. The timeout bounds each gap
        between chunks, not the whole answer."""
        resp: Response | None = None
        try:
            resp = await self._pool(target.url).request(PATHS[kind], body, _headers(target, meta),
                                                        timeout_s or self._timeout_s, stream=True)
            content_type = resp.headers.get("content-type", "text/event-stream")
            if resp.status >= 400:
                data = await resp.read()
                resp.release()
                _raise_for_retryable(resp.status, data)
                return UpstreamStream(resp.status, content_type, resp, data)
            first = await resp.readany()
            if not first:
                raise UpstreamError("protocol", "stream closed before the first chunk")
            sse = content_type.split(";")[0].strip() == "text/event-stream"
            while sse and not ob.stream_has_begun(kind, first) and len(first) < FIRST_TOKEN_WINDOW:
                more = await resp.readany()  # role-only chunks: hold them until the first token
                if not more:
                    raise UpstreamError("protocol", "stream closed before its first token")
                first += more
            return UpstreamStream(resp.status, content_type, resp, first)
        except UpstreamError:
            if resp is not None:
                resp.release()
            raise
        except (TimeoutError, OSError, ValueError) as exc:
            if resp is not None:
                resp.release()
            raise _as_upstream_error(exc) from exc

    async def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


def _raise_for_retryable(status: int, data: bytes) -> None:
    if status in RETRYABLE_STATUS:
        raise UpstreamError(f"http_{status}", data[:200].decode(errors="replace"))


def _as_upstream_error(exc: BaseException) -> UpstreamError:
    if isinstance(exc, TimeoutError):
        return UpstreamError("timeout", "no answer in time")
    return UpstreamError("connection", f"{type(exc).__name__}: {exc}")
