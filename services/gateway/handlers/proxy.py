"""The request path: authenticate, resolve the route, guard the input, pick a target, try
the cache, call upstream with fallback, guard the output, answer, then log in the
background. Adapters come in through the constructor (wired once in `bootstrap.py`)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from schemas.events.deployments import RouteTarget
from schemas.events.inference import InferenceLogged, Purpose
from services.gateway.adapters import metrics
from services.gateway.adapters.cache import CacheUnavailable, ResponseCache
from services.gateway.adapters.inference_log import InferenceLog, purpose_of
from services.gateway.adapters.ratelimit import RateLimiter
from services.gateway.adapters.route_store import RouteStore
from services.gateway.adapters.spans import finish_span, inject_traceparent, start_request_span
from services.gateway.adapters.upstream import BufferedStream, UpstreamError, Upstreams, UpstreamStream
from services.gateway.config import GatewaySettings
from services.gateway.domain import openai_body as ob
from services.gateway.domain import serving
from services.gateway.domain.auth import ApiKeys
from services.gateway.domain.caching import bypass_reason, cache_key
from services.gateway.domain.guardrails import (
    InputPolicy,
    Verdict,
    check_input,
    check_output,
    json_valid,
    redact_pii,
)
from services.gateway.domain.replies import Reply, error_reply, json_reply, meta_headers
from services.gateway.domain.routing import CompiledRoute, attempt_order, pick_target
from services.gateway.domain.sse import parse_sse
from services.gateway.handlers.stream_relay import relay

log = logging.getLogger(__name__)

REQUEST_ROUTES_KEPT = 100_000


@dataclass(frozen=True)
class Failure:
    """One target's failed attempt: its UpstreamError kind, and the line the client is shown."""

    kind: str
    line: str


@dataclass
class Call:
    """One client request on its way through the gateway."""

    request_id: str
    kind: str
    route: CompiledRoute
    body: dict[str, Any]
    started: float
    span: Any
    input_hits: list[str] = field(default_factory=list)
    upstream_headers: dict[str, str] = field(default_factory=dict)
    purpose: Purpose | None = None  # x-challenger-purpose, logged (not forwarded upstream)
    client: str | None = None  # the API key's client, when its tokens count against a limit

    def end_span(self, **outcome: Any) -> None:
        finish_span(self.span, started=self.started, request_id=self.request_id, **outcome)

    @property
    def table(self) -> Any:
        return self.route.table

    def request_for(self, target: RouteTarget, *, whole: bool = False) -> tuple[str, bytes]:
        """The upstream API and body for `target`, its serving profile applied; `whole` asks
        for one JSON answer (shadows, answers that must be post-processed) instead of a stream."""
        try:
            upstream = serving.upstream_request(self.kind, self.body, target.serving)
        except serving.ServingError as exc:
            raise UpstreamError("serving", f"serving profile of {target.candidate_id}: {exc}") from exc
        body = {**upstream.body, "model": target.model}
        if whole:
            body.pop("stream_options", None)
            body["stream"] = False
        return upstream.kind, json.dumps(body).encode()

    def served_answer(self, target: RouteTarget, from_kind: str, raw: bytes) -> bytes:
        """The upstream's answer as the client gets it: in the client's API, post-processed."""
        if target.serving is None:
            return raw
        try:
            data = json.loads(raw)
            return json.dumps(serving.client_answer(self.kind, from_kind, data, target.serving)).encode()
        except ValueError as exc:  # ServingError too
            raise UpstreamError("serving", f"serving profile of {target.candidate_id}: {exc}") from exc


class Gateway:
    def __init__(self, settings: GatewaySettings, store: RouteStore, upstreams: Upstreams,
                 cache: ResponseCache | None, inference_log: InferenceLog, keys: ApiKeys, *,
                 limiter: RateLimiter | None = None) -> None:
        self.settings = settings
        self.store = store
        self.upstreams = upstreams
        self.cache = cache
        self.log = inference_log
        self.keys = keys
        self.limiter = limiter
        self.request_routes: OrderedDict[str, str] = OrderedDict()
        self._background: set[asyncio.Task[Any]] = set()
        self._shadows_in_flight = 0

    # ---- entry -------------------------------------------------------------------------
    async def handle(self, kind: str, raw: bytes, headers: dict[str, str]) -> Reply:
        request_id = headers.get("x-request-id") or os.urandom(16).hex()
        client = self.keys.client(headers.get("authorization")) if self.keys.enabled else None
        if client is None and self.keys.enabled:
            return error_reply(401, "missing or invalid API key: send 'Authorization: Bearer <key>'",
                               "authentication_error", request_id)
        if self.limiter is not None and client is not None and (refused := await self._over_limit(client, request_id)):
            return refused
        try:
            body = ob.parse_json(raw)
        except ValueError:
            return error_reply(400, "request body is not valid JSON", "invalid_request_error", request_id)
        if problem := ob.validation_error(kind, body):
            return error_reply(400, problem, "invalid_request_error", request_id)
        routes = self.store.routes
        route = routes.get(body["model"])
        if route is None:
            return error_reply(404, f"unknown route {body['model']!r}; known routes: {sorted(routes)}",
                               "route_not_found", request_id, routes=sorted(routes))
        span = start_request_span(kind, body, headers, request_id)
        call = Call(request_id, kind, route, body, time.perf_counter(), span, purpose=purpose_of(headers),
                    client=client if self.limiter is not None else None)
        call.upstream_headers["x-request-id"] = request_id
        inject_traceparent(span, call.upstream_headers)
        self._remember(request_id, route.name)
        if blocked := self._guard_input(call):
            return blocked
        sticky = headers.get(route.table.sticky_key.lower()) if route.table.sticky_key else None
        chosen = pick_target(route, sticky)
        self._mirror(call)
        if call.body.get("stream"):
            return await self._stream(call, chosen)
        return await self._complete(call, chosen)

    async def _over_limit(self, client: str, request_id: str) -> Reply | None:
        decision = await self.limiter.admit(client)  # type: ignore[union-attr]
        if decision.allowed:
            return None
        metrics.RATE_LIMITED.labels(client).inc()
        reply = error_reply(429, f"rate limit of API key {client!r} reached ({decision.reason}); retry after "
                                 f"{decision.retry_after_s}s", "rate_limit_exceeded", request_id,
                            retry_after_s=decision.retry_after_s)
        reply.headers.append((b"retry-after", str(decision.retry_after_s).encode()))
        return reply

    def _spend(self, call: Call, usage: tuple[int, int]) -> None:
        if call.client is not None:
            self.limiter.spend(call.client, usage[0] + usage[1])  # type: ignore[union-attr]

    # ---- input guardrails ---------------------------------------------------------------
    def _guard_input(self, call: Call) -> Reply | None:
        table = call.table
        texts = ob.request_texts(call.kind, call.body)
        verdict = check_input(texts, InputPolicy(table.max_input_tokens, tuple(table.blocked_topics)))
        if verdict.blocked_by:
            self._count_guardrail(call, "input", verdict)
            self._log(call, None, "primary", "", status="blocked", error=verdict.reason, hits=verdict.hits)
            call.end_span(target=None, model=None, usage=(0, 0), status=400, error=verdict.blocked_by)
            metrics.REQUESTS.labels(call.route.name, "-", "blocked").inc()
            return error_reply(400, f"request blocked by guardrail {verdict.blocked_by}: {verdict.reason}",
                               "guardrail_blocked", call.request_id, guardrail=verdict.blocked_by)
        kinds: list[str] = []

        def redact(text: str) -> str:
            result = redact_pii(text)
            kinds.extend(result.kinds)
            return result.text

        redacted = ob.map_request_texts(call.kind, call.body, redact)
        if kinds:
            call.body = redacted
            verdict = Verdict(redactions=tuple(kinds))
            self._count_guardrail(call, "input", verdict)
            call.input_hits = verdict.hits
        return None

    def _count_guardrail(self, call: Call, stage: str, verdict: Verdict) -> None:
        route = call.route.name
        for kind in verdict.redactions:
            metrics.GUARDRAILS.labels(route, stage, f"pii:{kind}", "redacted").inc()
        for flag in verdict.flags:
            metrics.GUARDRAILS.labels(route, stage, flag, "flagged").inc()
        if verdict.blocked_by:
            metrics.GUARDRAILS.labels(route, stage, verdict.blocked_by, "blocked").inc()
        log.info("guardrail %s on %s request %s: %s", stage, route, call.request_id, verdict.hits)

    # ---- non-streaming ------------------------------------------------------------------
    async def _complete(self, call: Call, chosen: RouteTarget) -> Reply:
        key, cache_state, hit = await self._cache_lookup(call, chosen)
        if hit is not None:
            text = ob.response_text(call.kind, json.loads(hit))
            return self._finish(call, chosen, 200, hit, "hit", (0, 0), text, [], cached=True)
        outcome = await self._first_success(call, chosen, lambda target: self._attempt(call, target))
        if isinstance(outcome, list):
            return self._all_failed(call, outcome)
        target, (status, out, text, usage, hits) = outcome
        if status == 200 and key is not None and target is chosen:
            self._spawn(self.cache.put(key, out, call.table.cache_ttl_s))  # type: ignore[union-attr]
        return self._finish(call, target, status, out, cache_state, usage, text, hits, chosen=chosen)

    async def _first_success(self, call: Call, chosen: RouteTarget, attempt: Callable[[RouteTarget], Awaitable[Any]],
                             ) -> tuple[RouteTarget, Any] | list[Failure]:
        """The first target whose attempt succeeds, with its result; else why each one failed."""
        failures: list[Failure] = []
        for target in attempt_order(call.route, chosen):
            try:
                return target, await attempt(target)
            except UpstreamError as exc:
                self._attempt_failed(call, target, exc.kind, str(exc), failures)
        return failures

    async def _attempt(self, call: Call, target: RouteTarget, *,
                       whole: bool = False) -> tuple[int, bytes, str, tuple[int, int], list[str]]:
        kind, payload = call.request_for(target, whole=whole)
        reply = await self.upstreams.call(target, kind, payload, call.upstream_headers, call.table.timeout_s)
        if reply.status != 200:  # the client's own mistake (4xx): say so, do not fall back
            return reply.status, reply.body, "", (0, 0), []
        answer = self._guard_output(call, target, call.served_answer(target, kind, reply.body))
        if isinstance(answer, str):
            raise UpstreamError("guardrail", answer)
        return (200, *answer)

    async def _cache_lookup(self, call: Call, chosen: RouteTarget) -> tuple[str | None, str, bytes | None]:
        """(key to store under, x-cache state, cached answer)."""
        key, state, hit = None, "bypass", None
        sampled = serving.with_defaults(call.body, chosen.serving)  # as the target is called
        if self.cache is not None and bypass_reason(call.table, sampled) is None:
            key = cache_key(self.settings.gateway_cache_prefix, call.kind, call.route.name, chosen, call.body)
            try:
                hit = await self.cache.get(key)
                state = "miss" if hit is None else "hit"
            except CacheUnavailable:
                key = None
        metrics.CACHE.labels(call.route.name, state).inc()
        return key, state, hit

    def _guard_output(self, call: Call, target: RouteTarget, raw: bytes) -> tuple[bytes, str, tuple[int, int],
                                                                                 list[str]] | str:
        """(body, text, usage, hits), or the reason the answer failed its guardrails."""
        try:
            data = json.loads(raw)
        except ValueError:
            return "upstream answered with invalid JSON"
        text = ob.response_text(call.kind, data)
        verdict, safe = check_output(text, require_json=call.table.require_json)
        if verdict.hits:
            self._count_guardrail(call, "output", verdict)
        if verdict.blocked_by:
            self._log(call, target, "primary", text, status="blocked", error=verdict.reason, hits=verdict.hits)
            return f"output guardrail {verdict.blocked_by}: {verdict.reason}"
        out = raw if safe == text else json.dumps(ob.with_response_text(call.kind, data, safe)).encode()
        return out, safe, ob.usage(data), call.input_hits + verdict.hits

    # ---- streaming ------------------------------------------------------------------------
    async def _stream(self, call: Call, chosen: RouteTarget) -> Reply:
        metrics.CACHE.labels(call.route.name, "bypass").inc()
        outcome = await self._first_success(call, chosen, lambda target: self._open_stream(call, target))
        if isinstance(outcome, list):
            return self._all_failed(call, outcome)
        target, stream = outcome
        ttft = time.perf_counter() - call.started
        if target is not chosen:
            metrics.FALLBACKS.labels(call.route.name).inc()
        headers = [(b"content-type", stream.content_type.encode()), (b"cache-control", b"no-cache"),
                   *meta_headers(call.request_id, target.candidate_id, "bypass")]
        return Reply(stream.status, headers, stream=relay(self, call, target, stream, ttft))

    async def _open_stream(self, call: Call, target: RouteTarget) -> UpstreamStream | BufferedStream:
        if serving.needs_whole_answer(call.kind, target.serving):
            return await self._whole_as_stream(call, target)
        kind, payload = call.request_for(target)
        stream = await self.upstreams.open_stream(target, kind, payload, call.upstream_headers, call.table.timeout_s)
        if not call.table.require_json or stream.status != 200:
            return stream
        # a JSON route must be able to fall back on a bad answer: read it whole first
        whole = await stream.buffered()
        text, _ = parse_sse(call.kind, b"".join(whole.parts))
        if not json_valid(text):
            self._log(call, target, "primary", text, status="blocked", error="answer is not valid JSON",
                      hits=["json_validity"])
            metrics.GUARDRAILS.labels(call.route.name, "output", "json_validity", "blocked").inc()
            raise UpstreamError("guardrail", "output guardrail json_validity: streamed answer is not valid JSON")
        return whole

    async def _whole_as_stream(self, call: Call, target: RouteTarget) -> BufferedStream:
        """A target whose answer is post-processed or translated: read it whole (guarded like a
        non-streamed answer, so it can still fall back), then replay it as one SSE stream."""
        status, out, *_ = await self._attempt(call, target, whole=True)
        if status != 200:
            return BufferedStream(status, "application/json", [out])
        include_usage = bool((call.body.get("stream_options") or {}).get("include_usage"))
        return BufferedStream(200, "text/event-stream", [serving.as_sse(call.kind, json.loads(out), include_usage)])

    def stream_done(self, call: Call, target: RouteTarget, status: int, ttft: float, text: str,
                    usage: tuple[int, int], error: str | None) -> None:
        """Called by the relay when the last chunk has been sent (or the stream broke)."""
        verdict, _ = check_output(text, require_json=call.table.require_json)
        if verdict.hits:
            self._count_guardrail(call, "output", verdict)
        elapsed = time.perf_counter() - call.started
        metrics.TTFT.labels(call.route.name, target.candidate_id).observe(ttft)
        metrics.LATENCY.labels(call.route.name, target.candidate_id).observe(elapsed)
        metrics.REQUESTS.labels(call.route.name, target.candidate_id, str(status) if not error else "broken").inc()
        call.end_span(target=target.candidate_id, model=target.model, usage=usage, status=status,
                      cache="bypass", error=error)
        self._spend(call, usage)
        self._log(call, target, "primary", text, status="error" if error else "ok", error=error,
                  usage=usage, ttft=ttft, hits=call.input_hits + verdict.hits)

    # ---- outcomes ---------------------------------------------------------------------
    def _finish(self, call: Call, target: RouteTarget, status: int, out: bytes, cache_state: str,
                usage: tuple[int, int], text: str, hits: list[str], *, chosen: RouteTarget | None = None,
                cached: bool = False) -> Reply:
        elapsed = time.perf_counter() - call.started
        route = call.route.name
        if chosen is not None and target is not chosen:
            metrics.FALLBACKS.labels(route).inc()
        metrics.LATENCY.labels(route, target.candidate_id).observe(elapsed)
        metrics.REQUESTS.labels(route, target.candidate_id, str(status)).inc()
        call.end_span(target=target.candidate_id, model=target.model, usage=usage, status=status,
                      cache=cache_state)
        self._spend(call, usage)
        if status == 200:
            self._log(call, target, "primary" if chosen is None or target is chosen else "fallback", text,
                      usage=usage, hits=hits, cached=cached)
        return json_reply(status, out, meta_headers(call.request_id, target.candidate_id, cache_state))

    def _attempt_failed(self, call: Call, target: RouteTarget, kind: str, detail: str,
                        failures: list[Failure]) -> None:
        metrics.ERRORS.labels(call.route.name, target.candidate_id, kind).inc()
        failures.append(Failure(kind, f"{target.candidate_id}: {detail}"))
        log.warning("route %s target %s failed (%s); trying the next one", call.route.name, target.candidate_id,
                    detail[:200])

    def _all_failed(self, call: Call, failures: list[Failure]) -> Reply:
        """503 when no target could answer; 502 when every target answered and the output
        guardrail rejected each answer (the upstreams are up: what they said is unusable)."""
        rejected = bool(failures) and all(f.kind == "guardrail" for f in failures)
        status, code = (502, "upstream_answer_rejected") if rejected else (503, "upstream_unavailable")
        attempts = [f.line for f in failures]
        metrics.REQUESTS.labels(call.route.name, "-", str(status)).inc()
        call.end_span(target=None, model=None, usage=(0, 0), status=status, error="no_target_left")
        self._log(call, None, "primary", "", status="error", error="; ".join(attempts))
        what = "every answer failed the output guardrail" if rejected else "every target failed"
        return error_reply(status, f"route {call.route.name!r}: {what} and no fallback is left "
                                   f"(first: {attempts[0] if attempts else 'no target'})",
                           code, call.request_id, attempts=attempts)

    # ---- shadows ----------------------------------------------------------------------
    def _mirror(self, call: Call) -> None:
        for target in call.table.shadows:
            if self._shadows_in_flight >= self.settings.gateway_max_shadow_in_flight:
                metrics.SHADOWS.labels(call.route.name, target.candidate_id, "skipped").inc()
                continue
            self._shadows_in_flight += 1
            self._spawn(self._shadow(call, target))

    async def _shadow(self, call: Call, target: RouteTarget) -> None:
        started = time.perf_counter()
        try:
            kind, body = call.request_for(target, whole=True)
            reply = await self.upstreams.call(target, kind, body, call.upstream_headers, call.table.timeout_s)
            data = json.loads(call.served_answer(target, kind, reply.body) if reply.status == 200 else reply.body)
            text, usage, status, error = ob.response_text(call.kind, data), ob.usage(data), "ok", None
        except (UpstreamError, ValueError) as exc:
            text, usage, status, error = "", (0, 0), "error", str(exc)
        finally:
            self._shadows_in_flight -= 1
        metrics.SHADOWS.labels(call.route.name, target.candidate_id, status).inc()
        self._log(call, target, "shadow", text, status=status, error=error, usage=usage,
                  latency_ms=(time.perf_counter() - started) * 1000)

    # ---- inference log ----------------------------------------------------------------
    def _log(self, call: Call, target: RouteTarget | None, role: str, text: str, *, status: str = "ok",
             error: str | None = None, usage: tuple[int, int] = (0, 0), ttft: float | None = None,
             hits: list[str] | None = None, cached: bool = False, latency_ms: float | None = None) -> None:
        rate = call.table.log_sample_rate
        if rate is None:
            rate = self.settings.gateway_log_sample_rate
        if not self.log.sampled(rate):
            return
        if latency_ms is None:
            latency_ms = (time.perf_counter() - call.started) * 1000
        self.log.offer(lambda: InferenceLogged(  # built by the log's drain task, after the answer has gone
            request_id=call.request_id, route=call.route.name,
            candidate_id=target.candidate_id if target else "-",
            prompt_version=target.prompt_version if target else None, role=role,  # type: ignore[arg-type]
            prompt=ob.prompt_text(ob.request_texts(call.kind, call.body)), response=text, status=status,  # type: ignore[arg-type]
            error=error, input_tokens=usage[0], output_tokens=usage[1], latency_ms=latency_ms,
            ttft_ms=ttft * 1000 if ttft is not None else None, guardrail_hits=hits or [], cached=cached,
            purpose=call.purpose, sample_rate=rate))

    # ---- housekeeping -----------------------------------------------------------------
    def _remember(self, request_id: str, route: str) -> None:
        self.request_routes[request_id] = route
        if len(self.request_routes) > REQUEST_ROUTES_KEPT:
            self.request_routes.popitem(last=False)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        if self._background:
            await asyncio.wait(self._background, timeout=2)
