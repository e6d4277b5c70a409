"""The engine-neutral request/response and the client interface."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx


class EngineError(RuntimeError):
    """A model call failed; `kind` is one of timeout, connect, http, protocol."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.status = status


@dataclass(frozen=True)
class GenerationRequest:
    """Chat when `messages` is set, plain completion when `prompt` is set."""

    messages: list[dict[str, str]] | None = None
    prompt: str | None = None
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 256
    seed: int | None = None
    stop: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("give exactly one of messages or prompt")


@dataclass(frozen=True)
class Generation:
    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    finish_reason: str | None = None


RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class EngineClient:
    """Shared HTTP plumbing: pooled connections, timeouts and bounded retries with backoff.

    Subclasses build the engine's request body and parse its answers.
    """

    def __init__(self, base_url: str, model: str, *, api_key_env: str | None = None,
                 timeout_s: float = 60.0, retries: int = 2, max_connections: int = 256) -> None:
        self.base_url = base_url.rstrip("/").removesuffix("/v1")
        self.model = model
        self.retries = retries
        key = os.environ.get(api_key_env) if api_key_env else None  # the key is read, never stored
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> EngineClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def health(self) -> bool:
        for path in ("/health", "/v1/models"):
            try:
                if (await self._http.get(path, timeout=3.0)).status_code == 200:
                    return True
            except httpx.HTTPError:
                continue
        return False

    async def lists_model(self) -> bool | None:
        """Whether the server's `/v1/models` names this client's model; None when it gives no
        list. A gateway lists its routes there: a route it has not been told about yet is absent."""
        try:
            r = await self._http.get("/v1/models", timeout=3.0)
            ids = {m.get("id") for m in r.json().get("data", [])} if r.status_code == 200 else set()
        except (httpx.HTTPError, ValueError, AttributeError, TypeError):
            return None
        return (self.model in ids) if ids else None

    async def generate(self, req: GenerationRequest) -> Generation:
        path, body = self.request_body(req, stream=False)
        start = time.perf_counter()
        data = await self._post_json(path, body)
        gen = self.parse_response(req, data)
        return Generation(gen.text, gen.input_tokens, gen.output_tokens,
                          (time.perf_counter() - start) * 1000, None, gen.finish_reason)

    async def stream(self, req: GenerationRequest) -> AsyncIterator[str]:
        """Yield text deltas as the engine streams them."""
        path, body = self.request_body(req, stream=True)
        try:
            async with self._http.stream("POST", path, json=body) as resp:
                if resp.status_code >= 400:
                    text = (await resp.aread()).decode(errors="replace")[:300]
                    raise EngineError("http", f"{resp.status_code} from {path}: {text}", resp.status_code)
                state: dict[str, Any] = {}
                async for line in resp.aiter_lines():
                    delta = self.parse_stream_line(line, state)
                    if delta:
                        yield delta
        except httpx.TimeoutException as exc:
            raise EngineError("timeout", f"{path} timed out") from exc
        except httpx.TransportError as exc:
            raise EngineError("connect", f"{self.base_url}{path}: {exc}") from exc

    async def _post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        last: EngineError | None = None
        for attempt in range(self.retries + 1):
            try:
                resp = await self._http.post(path, json=body)
            except httpx.TimeoutException:
                last = EngineError("timeout", f"{self.base_url}{path} timed out")
            except httpx.TransportError as exc:
                last = EngineError("connect", f"{self.base_url}{path}: {exc}")
            else:
                if resp.status_code < 400:
                    try:
                        return dict(resp.json())
                    except json.JSONDecodeError as exc:
                        raise EngineError("protocol", f"{path} returned non-JSON") from exc
                last = EngineError("http", f"{resp.status_code} from {path}: {resp.text[:300]}", resp.status_code)
                if resp.status_code not in RETRYABLE_STATUS:
                    raise last
            if attempt < self.retries:
                await asyncio.sleep(0.25 * 2**attempt)
        assert last is not None
        raise last

    def request_body(self, req: GenerationRequest, *, stream: bool) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def parse_response(self, req: GenerationRequest, data: dict[str, Any]) -> Generation:
        raise NotImplementedError

    def parse_stream_line(self, line: str, state: dict[str, Any]) -> str | None:
        """The text delta of one SSE line; `state` lives for one stream."""
        raise NotImplementedError


def sse_payload(line: str) -> dict[str, Any] | None:
    """The JSON object of one `data:` line, or None for comments, blanks and [DONE]."""
    if not line.startswith("data:"):
        return None
    raw = line[5:].strip()
    if not raw or raw == "[DONE]":
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise EngineError("protocol", f"malformed SSE data: {raw[:120]}") from exc
    return value if isinstance(value, dict) else None
