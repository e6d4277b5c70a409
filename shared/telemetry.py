"""OpenTelemetry set-up, done once per process; trace context travels in `traceparent`.

With OTEL_EXPORTER_OTLP_ENDPOINT set, spans go to OTLP/HTTP; otherwise they are appended
as JSON lines to `$CHALLENGER_HOME/traces/<service>.jsonl`, which an operator can read.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
_configured = False


class JsonLinesExporter(SpanExporter):
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._path.open("a") as f:
            for span in spans:
                f.write(json.dumps(_span_record(span)) + "\n")
        return SpanExportResult.SUCCESS


def _span_record(span: ReadableSpan) -> dict[str, Any]:
    ctx = span.get_span_context()
    return {
        "name": span.name,
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
    }


def setup_tracing(service: str, home: Path) -> None:
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"challenger-{service}"}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(BatchSpanProcessor(JsonLinesExporter(home / "traces" / f"{service}.jsonl")))
    trace.set_tracer_provider(provider)
    _configured = True
    logging.getLogger(__name__).debug("tracing configured for %s", service)


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def context_from_traceparent(traceparent: str | None) -> Any:
    return _propagator.extract({"traceparent": traceparent} if traceparent else {})


# Looked up once: get_tracer per event cost more than the span itself (make bench-backbone).
# A ProxyTracer, so it follows the provider that setup_tracing installs later.
_bus_tracer = trace.get_tracer("challenger.bus")


@contextmanager
def event_span(envelope: Any, consumer: str) -> Iterator[trace.Span]:
    """A consumer span, child of the producer's trace (one iteration = one trace)."""
    tracer = _bus_tracer
    ctx = context_from_traceparent(envelope.traceparent)
    with tracer.start_as_current_span(
        f"handle {envelope.type}",
        context=ctx,
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": envelope.topic,
            "messaging.message.id": envelope.id,
            "messaging.consumer.group.name": consumer,
            "challenger.correlation_id": envelope.correlationid,
        },
    ) as span:
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
