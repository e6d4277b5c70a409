"""OpenTelemetry set-up, done once per process; trace context travels in `traceparent`.

With OTEL_EXPORTER_OTLP_ENDPOINT set, spans go to OTLP/HTTP; otherwise they are appended
as JSON lines to `$CHALLENGER_HOME/traces/<service>.jsonl`, which an operator can read.

Sampling (the production default): parent-based ratio sampling, CHALLENGER_TRACE_RATIO of
the root traces (default 0.1; the standard OTEL_TRACES_SAMPLER / _ARG replace it when set),
so one iteration's trace is kept or dropped whole. Errors and slow spans are kept anyway: an
unsampled consumer span that fails, or takes longer than CHALLENGER_TRACE_SLOW_MS (default
500), is recorded after the fact with `challenger.kept` = error | slow (see `keep_span`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
    _get_from_env_or_default,
)
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

_propagator = TraceContextTextMapPropagator()
_configured = False


class JsonLinesSpanProcessor(SpanProcessor):
    """Finished spans as JSON lines, formatted and appended by a worker thread.

    `on_end` keeps only the fields of the line, as strings and numbers (nothing the garbage
    collector traces); the worker turns them into JSON and appends them in one write per batch.
    A BatchSpanProcessor would queue each ReadableSpan: its objects outlived two young
    collections and filled the oldest generation, so every ~5,000 spans a full collection of
    the whole heap (~110 ms) ran on the event loop (make bench-backbone with a span per event).
    Like the BatchSpanProcessor: a bounded queue that drops (and counts) when full, a batch
    written when `BATCH` lines wait or every `DELAY_S`, the rest on flush and shutdown.
    """

    BATCH = 512
    DELAY_S = 1.0
    MAX_QUEUE = 8192

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._queue: deque[tuple[Any, ...]] = deque()
        self._wake = threading.Event()
        self._write_lock = threading.Lock()
        self._shutdown = False
        self.dropped = 0
        self._start_worker()
        if hasattr(os, "register_at_fork"):
            restart = weakref.WeakMethod(self._start_worker)
            os.register_at_fork(after_in_child=lambda: (start := restart()) and start())

    def _start_worker(self) -> None:
        self._worker = threading.Thread(target=self._work, name="JsonLinesSpanWriter", daemon=True)
        self._worker.start()

    def on_end(self, span: ReadableSpan) -> None:
        ctx = span.context
        if ctx is None or not ctx.trace_flags.sampled or self._shutdown:
            return
        if len(self._queue) >= self.MAX_QUEUE:
            self.dropped += 1
            return
        parent = span.parent
        self._queue.append((span.name, ctx.trace_id, ctx.span_id, parent.span_id if parent else None,
                            span.start_time, span.end_time, span.status.status_code.name, dict(span.attributes or {})))
        if len(self._queue) >= self.BATCH and not self._wake.is_set():
            self._wake.set()

    def _work(self) -> None:
        while not self._shutdown:
            self._wake.wait(self.DELAY_S)
            self._wake.clear()
            self._write()

    def _write(self) -> None:
        with self._write_lock:
            lines = []
            while self._queue:
                lines.append(json.dumps(_span_record(*self._queue.popleft())))
            if lines:
                with self._path.open("a") as f:
                    f.write("\n".join(lines) + "\n")

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self._write()
        return True

    def shutdown(self) -> None:
        self._shutdown = True
        self._wake.set()
        self._worker.join(timeout=30)
        self._write()
        if self.dropped:
            logging.getLogger(__name__).warning("%d spans dropped: the span queue was full", self.dropped)


def _span_record(name: str, trace_id: int, span_id: int, parent_id: int | None, start_ns: int | None,
                 end_ns: int | None, status: str, attributes: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "trace_id": f"{trace_id:032x}",
        "span_id": f"{span_id:016x}",
        "parent_id": f"{parent_id:016x}" if parent_id is not None else None,
        "start_ns": start_ns,
        "end_ns": end_ns,
        "status": status,
        "attributes": attributes,
    }


KEPT = "challenger.kept"  # why a span outside the sample was recorded anyway: "error" or "slow"
DECIDED = "challenger.sampled"  # a root span event_span has already drawn into the sample (not recorded)
DEFAULT_RATIO = 0.1
DEFAULT_SLOW_MS = 500.0


class KeepMarked(Sampler):
    """The delegate's decision, except for spans started with the KEPT attribute (always
    kept) or with DECIDED (sampled by `event_span`'s own call to this sampler; the marker is
    not recorded)."""

    def __init__(self, delegate: Sampler, root: TraceIdRatioBased | None = None) -> None:
        """`root`: the delegate is ParentBased(root) with its default parent samplers (the
        production default), so `decide` may take its decision without calling it."""
        self.delegate = delegate
        self._bound = root.bound if root is not None else None

    def decide(self, parent: Any, parent_context: trace.SpanContext, trace_id: int,
               name: str, kind: SpanKind) -> tuple[bool, Any]:
        """(sampled, trace state) of a span started without markers: what `should_sample`
        decides, without its three SamplingResult objects for ParentBased(TraceIdRatioBased)
        (a valid parent's sampled flag; else the ratio on the trace id, as TraceIdRatioBased)."""
        if self._bound is None:
            result = self.delegate.should_sample(parent, trace_id, name, kind)
            return result.decision.is_recording(), result.trace_state
        if parent_context.is_valid:
            return parent_context.trace_flags.sampled, parent_context.trace_state
        return trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < self._bound, None

    def should_sample(self, parent_context: Any, trace_id: int, name: str, kind: SpanKind | None = None,
                      attributes: Attributes = None, links: Sequence[Link] | None = None,
                      trace_state: Any = None) -> SamplingResult:
        if attributes and KEPT in attributes:
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, trace_state)
        if attributes and DECIDED in attributes:
            return SamplingResult(Decision.RECORD_AND_SAMPLE, {k: v for k, v in attributes.items() if k != DECIDED},
                                  trace_state)
        return self.delegate.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"KeepMarked{{{self.delegate.get_description()}}}"


def production_sampler(environ: Mapping[str, str] = os.environ) -> Sampler:
    if environ.get("OTEL_TRACES_SAMPLER"):
        return KeepMarked(_get_from_env_or_default())
    root = TraceIdRatioBased(float(environ.get("CHALLENGER_TRACE_RATIO", DEFAULT_RATIO)))
    return KeepMarked(ParentBased(root), root)


def slow_ns(environ: Mapping[str, str] = os.environ) -> int:
    return int(float(environ.get("CHALLENGER_TRACE_SLOW_MS", DEFAULT_SLOW_MS)) * 1e6)


def setup_tracing(service: str, home: Path) -> None:
    global _configured, SLOW_NS
    if _configured:
        return
    SLOW_NS = slow_ns()
    provider = TracerProvider(resource=Resource.create({"service.name": f"challenger-{service}"}),
                              sampler=production_sampler())
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(JsonLinesSpanProcessor(home / "traces" / f"{service}.jsonl"))
    trace.set_tracer_provider(provider)
    _configured = True
    logging.getLogger(__name__).debug("tracing configured for %s", service)


def current_traceparent() -> str | None:
    """The current span's W3C `traceparent`, as the propagator's `inject` writes it (without
    its carrier dict: this runs for every event published)."""
    span_context = trace.get_current_span().get_span_context()
    if span_context == trace.INVALID_SPAN_CONTEXT:
        return None
    return f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-{span_context.trace_flags:02x}"


_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ROOT_CONTEXT = Context()


def context_from_traceparent(traceparent: str | None) -> Any:
    """The context an event's `traceparent` names (empty without one). The canonical form
    (version 00, what `current_traceparent` writes) is parsed here, ~3x cheaper than the
    propagator's `extract`; anything else goes through `extract`, which decides."""
    if not traceparent:
        return _ROOT_CONTEXT
    match = _TRACEPARENT.fullmatch(traceparent)
    if match is None or match[1] == _ZERO_TRACE or match[2] == _ZERO_SPAN:
        return _propagator.extract({"traceparent": traceparent})
    span_context = trace.SpanContext(int(match[1], 16), int(match[2], 16), is_remote=True,
                                     trace_flags=TraceFlags(int(match[3], 16)))
    return trace.set_span_in_context(trace.NonRecordingSpan(span_context), _ROOT_CONTEXT)


_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16


# Looked up once: get_tracer per event cost more than the span itself (make bench-backbone).
# A ProxyTracer, so it follows the provider that setup_tracing installs later.
_bus_tracer = trace.get_tracer("challenger.bus")
SLOW_NS = slow_ns()
MAX_LINKS = 32  # a batch span links to its first events' producer spans, not to all of them


class event_span:  # noqa: N801 - used as `with event_span(envelope, consumer) as span:`
    """A consumer span, child of the producer's trace (one iteration = one trace), current
    while the handler runs (events it publishes carry it in `traceparent`). Outside the
    sample nothing is recorded but the context still travels; a failure or a slow handler is
    then recorded after the fact (`keep_span`).

    Per event, this is the bus's hot path (make bench-backbone), so with the production
    sampler (`KeepMarked`) on an SDK tracer the sampling decision is taken here, before any
    span exists: an event outside the sample gets only its SpanContext (fresh span id, the
    trace id, flags and trace state the SDK would give it) in a NonRecordingSpan made
    current, without the SDK's span machinery or its generator context managers. An event
    inside the sample gets the SDK's span as before; a root trace's decision is handed to
    the SDK (`DECIDED`) so the ratio is drawn once. Any other tracer or sampler takes the
    SDK's own `start_span` for every event.
    """

    __slots__ = ("_consumer", "_envelope", "_name", "_parent", "_sampled", "_start", "_token", "_tracer")

    def __init__(self, envelope: Any, consumer: str, tracer: trace.Tracer = _bus_tracer) -> None:
        self._tracer = tracer
        self._envelope = envelope
        self._consumer = consumer
        self._name = f"handle {envelope.type}"
        self._parent = context_from_traceparent(envelope.traceparent)

    def _attributes(self) -> dict[str, Any]:
        """The span's attributes, made only for a span that is recorded."""
        envelope = self._envelope
        return {
            "messaging.system": "kafka",
            "messaging.destination.name": envelope.topic,
            "messaging.message.id": envelope.id,
            "messaging.consumer.group.name": self._consumer,
            "challenger.correlation_id": envelope.correlationid,
        }

    def __enter__(self) -> trace.Span:
        span = _unsampled(self._tracer, self._name, self._parent)
        if not isinstance(span, trace.NonRecordingSpan):
            attributes = self._attributes()
            if span is DECIDED:
                attributes[DECIDED] = True
            span = self._tracer.start_span(self._name, context=self._parent, kind=SpanKind.CONSUMER,
                                           attributes=attributes)
            if span.is_recording():  # ended, ERROR with the exception on failure, by use_span
                self._sampled = trace.use_span(span, end_on_exit=True)
                return self._sampled.__enter__()
        self._sampled = None
        self._start = time.time_ns()
        self._token = context_api.attach(trace.set_span_in_context(span))
        return span

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool | None:
        if self._sampled is not None:
            return self._sampled.__exit__(kind, exc, tb)
        context_api.detach(self._token)
        if exc is not None:
            keep_span(self._tracer, self._name, self._parent, self._attributes(), self._start, SpanKind.CONSUMER, exc)
        elif time.time_ns() - self._start > SLOW_NS:
            keep_span(self._tracer, self._name, self._parent, self._attributes(), self._start, SpanKind.CONSUMER)
        return None


_UNSAMPLED_FLAGS = (TraceFlags(TraceFlags.DEFAULT), TraceFlags(TraceFlags.DEFAULT | TraceFlags.RANDOM_TRACE_ID))


def _unsampled(tracer: trace.Tracer, name: str, parent: Any) -> trace.Span | str | None:
    """The span of an event its trace's sampling leaves out, made without the SDK's span
    machinery, with the decision and SpanContext `Tracer.start_span` would give. Otherwise
    DECIDED (a root drawn into the sample: the SDK draws another trace id, so this draw is
    handed to it) or None (sampled under a parent, or not the production sampler): the SDK
    makes the span. The sampler is asked without the span's attributes, which none of the
    SDK's samplers reads (KeepMarked reads only its markers, absent here): `KeepMarked.decide`."""
    sdk = _SDK.get(tracer) or _sdk_parts(tracer)
    if sdk is None:
        return None
    real, sampler, ids = sdk
    if not real._is_enabled():  # noqa: SLF001
        return None
    parent_context = trace.get_current_span(parent).get_span_context()
    if parent_context.is_valid:
        trace_id, random_id = parent_context.trace_id, parent_context.trace_flags.random_trace_id
    else:
        trace_id, random_id = ids.generate_trace_id(), ids.is_trace_id_random()
    sampled, trace_state = sampler.decide(parent, parent_context, trace_id, name, SpanKind.CONSUMER)
    if sampled:
        return None if parent_context.is_valid else DECIDED
    return trace.NonRecordingSpan(trace.SpanContext(trace_id, ids.generate_span_id(), is_remote=False,
                                                    trace_flags=_UNSAMPLED_FLAGS[bool(random_id)],
                                                    trace_state=trace_state))


_SDK: dict[trace.Tracer, tuple[Any, KeepMarked, Any]] = {}


def _sdk_parts(tracer: trace.Tracer) -> tuple[Any, KeepMarked, Any] | None:
    """The SDK tracer behind `tracer`, its sampler and id generator, when the sampler is the
    production one; remembered once a proxy has its real tracer."""
    real = tracer._tracer if isinstance(tracer, trace.ProxyTracer) else tracer  # noqa: SLF001
    sampler = getattr(real, "sampler", None)
    if not isinstance(sampler, KeepMarked):
        return None
    _SDK[tracer] = parts = (real, sampler, real.id_generator)  # type: ignore[attr-defined]
    return parts


def keep_span(tracer: trace.Tracer, name: str, parent: Any, attributes: Mapping[str, Any], start_ns: int,
              kind: SpanKind, error: BaseException | str | None = None) -> None:
    """Record, after the fact, a span its trace's sampling left out: it failed (`error`: an
    exception, or a short description) or was slow."""
    span = tracer.start_span(name, context=parent, kind=kind, start_time=start_ns,
                             attributes={**attributes, KEPT: "error" if error else "slow"})
    if isinstance(error, BaseException):
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
    elif error:
        span.set_status(Status(StatusCode.ERROR, error))
    span.end()


@contextmanager
def batch_span(envelopes: Sequence[Any], consumer: str) -> Iterator[trace.Span]:
    """One consumer span for a batch handled at once, linked to (at most `MAX_LINKS` of) the
    producers' spans: a hot path pays one span per batch instead of one per event."""
    links = [trace.Link(c) for e in envelopes[:MAX_LINKS]
             if (c := trace.get_current_span(context_from_traceparent(e.traceparent)).get_span_context()).is_valid]
    span = _bus_tracer.start_span(
        f"handle batch of {envelopes[0].type}", kind=trace.SpanKind.CONSUMER, links=links,
        attributes={"messaging.system": "kafka", "messaging.destination.name": envelopes[0].topic,
                    "messaging.batch.message_count": len(envelopes), "messaging.consumer.group.name": consumer})
    with trace.use_span(span, end_on_exit=True):
        yield span


def add_http_tracing(app: Any, service: str) -> None:
    """A server span per HTTP request, continuing an incoming `traceparent`."""
    tracer = trace.get_tracer(f"challenger.{service}.http")

    @app.middleware("http")
    async def _trace(request: Any, call_next: Any) -> Any:
        ctx = propagate.extract(dict(request.headers))
        route = request.scope.get("route")
        name = f"{request.method} {getattr(route, 'path', request.url.path)}"
        with tracer.start_as_current_span(name, context=ctx, kind=trace.SpanKind.SERVER) as span:
            span.set_attribute("http.request.method", request.method)
            span.set_attribute("url.path", request.url.path)
            response = await call_next(request)
            span.set_attribute("http.response.status_code", response.status_code)
            return response
