"""The one engine client: model calls over one pooled aiohttp session, with the one retry
policy (`shared.engines.retry`) and the one SSE parser (`shared.engines.sse`). What differs
between engines (request body, answer, stream events) is the protocol strategy it holds.

Why aiohttp and not httpx: httpx's pool polls every idle connection's socket each time it
assigns a request, which on these machines (slow syscalls) costs milliseconds of CPU per
request once many connections are open, and evaluations run 64 calls in flight. Measured
2026-12 on the shared 2-core machine (load 2-3): 1,000 non-streamed chat calls at 64 in flight
against the scripted server (50 ms per answer; ideal 0.78 s), this process's CPU per call and
the median wall of 3 rounds:
  bare httpx.AsyncClient         11.1 ms/call  16.2 s
  bare aiohttp session            0.3 ms/call   1.1 s
  this client (aiohttp)           0.5 ms/call   1.3 s
  the old httpx EngineClient     12.2 ms/call  16.5 s
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp

from schemas.events.inference import PURPOSE_HEADER
from shared.engines.openai import OpenAIProtocol
from shared.engines.retry import RetryPolicy
from shared.engines.sse import complete_lines, json_object, sse_data
from shared.engines.types import EngineError, EngineProtocol, Generation, GenerationRequest

PROBE_TIMEOUT = aiohttp.ClientTimeout(total=3.0)


class EngineClient:
    """One model endpoint. The session is opened on first use, inside the running loop, or
    given (`session`, then the caller closes it); `aclose` closes an owned one."""

    def __init__(self, base_url: str, model: str, *, protocol: EngineProtocol | None = None,
                 api_key_env: str | None = None, timeout_s: float = 60.0, retry: RetryPolicy | None = None,
                 max_connections: int = 256, headers: dict[str, str] | None = None,
                 session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/").removesuffix("/v1")
        self.model = model
        self.protocol = protocol or OpenAIProtocol()
        self.retry = retry or RetryPolicy()
        key = os.environ.get(api_key_env) if api_key_env else None
        self._headers = {**(headers or {}), **({"Authorization": f"Bearer {key}"} if key else {})}
        # A call's whole time is bounded; a stream's gaps are, not its length.
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(timeout_s, 5.0))
        self._stream_timeout = aiohttp.ClientTimeout(connect=min(timeout_s, 5.0), sock_read=timeout_s)
        self._max_connections = max_connections
        self._session = session
        self._owns_session = session is None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._max_connections),
                                                  headers=self._headers)
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> EngineClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def health(self) -> bool:
        for path in ("/health", "/v1/models"):
            try:
                if (await self._get(path))[0] == 200:
                    return True
            except (TimeoutError, aiohttp.ClientError):
                continue
        return False

    async def lists_model(self) -> bool | None:
        """Whether the server's `/v1/models` names this client's model; None when it gives no
        list. A gateway lists its routes there: a route it has not been told about yet is absent."""
        try:
            status, raw = await self._get("/v1/models")
            ids = {m.get("id") for m in json.loads(raw).get("data", [])} if status == 200 else set()
        except (TimeoutError, aiohttp.ClientError, ValueError, AttributeError, TypeError):
            return None
        return (self.model in ids) if ids else None

    async def generate(self, req: GenerationRequest, purpose: str | None = None) -> Generation:
        """One answer; `purpose` goes out as the x-challenger-purpose header (a gateway logs it)."""
        path, body = self.protocol.request_body(self.model, req, stream=False)
        start = time.perf_counter()
        data = await self.post_json(path, body, purpose=purpose)
        gen = self.protocol.parse_response(req, data)
        return Generation(gen.text, gen.input_tokens, gen.output_tokens, (time.perf_counter() - start) * 1000,
                          None, gen.finish_reason)

    async def stream(self, req: GenerationRequest, purpose: str | None = None) -> AsyncIterator[str]:
        """Yield text deltas as the engine streams them. Not retried: text may have gone out."""
        path, body = self.protocol.request_body(self.model, req, stream=True)
        url, state, rest = f"{self.base_url}{path}", {}, b""
        with _transport_errors(url):
            async with self._http().post(url, json=body, headers=self._call_headers(purpose),
                                         timeout=self._stream_timeout) as resp:
                if resp.status >= 400:
                    raise _http_error(resp.status, path, await resp.read())
                async for chunk in resp.content.iter_any():
                    lines, rest = complete_lines(rest + chunk)
                    for line in lines:
                        event = sse_data(line)
                        if isinstance(event, dict) and (delta := self.protocol.stream_delta(event, state)):
                            yield delta

    async def post_json(self, path: str, body: dict[str, Any], *, purpose: str | None = None) -> dict[str, Any]:
        """POST `body`, read the JSON object answered, retrying as the policy says."""
        attempt = 0
        while True:
            try:
                return await self._post_once(path, body, self._call_headers(purpose))
            except EngineError as exc:
                if not self.retry.should_retry(exc, attempt):
                    raise
            await asyncio.sleep(self.retry.delay(attempt))
            attempt += 1

    async def _post_once(self, path: str, body: dict[str, Any], headers: dict[str, str] | None) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        with _transport_errors(url):
            async with self._http().post(url, json=body, headers=headers, timeout=self._timeout) as resp:
                raw = await resp.read()
        if resp.status >= 400:
            raise _http_error(resp.status, path, raw)
        return json_object(raw, f"the answer from {path}")

    async def _get(self, path: str) -> tuple[int, bytes]:
        """Status and body of a quick GET (probes: a few seconds at most, never retried)."""
        async with self._http().get(f"{self.base_url}{path}", headers=self._call_headers(None),
                                    timeout=PROBE_TIMEOUT) as resp:
            return resp.status, await resp.read()

    def _call_headers(self, purpose: str | None) -> dict[str, str] | None:
        """Per call: the purpose, and the client's own headers when the session is not ours."""
        headers = {} if self._owns_session else dict(self._headers)
        if purpose:
            headers[PURPOSE_HEADER] = purpose
        return headers or None


def _http_error(status: int, path: str, raw: bytes) -> EngineError:
    return EngineError("http", f"{status} from {path}: {raw[:300].decode(errors='replace')}", status)



@contextlib.contextmanager
def _transport_errors(url: str) -> Iterator[None]:
    """aiohttp's failures as EngineError kinds: the call outlived its timeout, or the
    connection failed (refused, reset, closed mid-answer). Both are worth a retry."""
    try:
        yield
    except TimeoutError as exc:
        raise EngineError("timeout", f"{url} timed out") from exc
    except aiohttp.ClientError as exc:
        raise EngineError("connect", f"{url}: {type(exc).__name__}: {exc}") from exc
