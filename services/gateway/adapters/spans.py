"""OTel spans of proxied calls, with the GenAI semantic-convention attributes."""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from shared import telemetry

tracer = trace.get_tracer("challenger.gateway")

OPERATION = {"chat": "chat", "completions": "text_completion"}
_REQUEST_ATTRS = {"temperature": "gen_ai.request.temperature", "top_p": "gen_ai.request.top_p",
                  "max_tokens": "gen_ai.request.max_tokens", "seed": "gen_ai.request.seed",
                  "frequency_penalty": "gen_ai.request.frequency_penalty",
                  "presence_penalty": "gen_ai.request.presence_penalty"}


def start_request_span(kind: str, body: dict[str, Any], headers: dict[str, str], request_id: str) -> Span:
    parent = propagate.extract(headers) if "traceparent" in headers else None
    attributes: dict[str, Any] = {"gen_ai.operation.name": OPERATION[kind], "gen_ai.request.model": body["model"],
                                  "challenger.request_id": request_id}
    for field_name, attr in _REQUEST_ATTRS.items():
        value = body.get(field_name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            attributes[attr] = value
    if body.get("stream"):
        attributes["gen_ai.request.stream"] = True
    # attributes given at the start, and set at the end in one call: each set_attribute takes the span's lock
    return tracer.start_span(f"{OPERATION[kind]} {body['model']}", context=parent, kind=SpanKind.SERVER,
                             attributes=attributes)


def finish_span(span: Span, *, target: str | None, model: str | None, usage: tuple[int, int],
                status: int, started: float, request_id: str, cache: str | None = None,
                error: str | None = None) -> None:
    """End the request's span; outside the trace sample, record a failed or slow request anyway.
    `started` is the request's time.perf_counter() at arrival."""
    attributes: dict[str, Any] = {"gen_ai.usage.input_tokens": usage[0], "gen_ai.usage.output_tokens": usage[1],
                                  "http.response.status_code": status}
    if target:
        attributes["challenger.target"] = target
    if model:
        attributes["gen_ai.response.model"] = model
    if cache:
        attributes["challenger.cache"] = cache
    if error:
        attributes["error.type"] = error
    if not span.is_recording():
        _keep_unsampled(span, attributes, started, request_id, error)
        return
    if error:
        span.set_status(Status(StatusCode.ERROR, error))
    span.set_attributes(attributes)
    span.end()


def _keep_unsampled(span: Span, attributes: dict[str, Any], started: float, request_id: str,
                    error: str | None) -> None:
    elapsed_ns = int((time.perf_counter() - started) * 1e9)
    if error or elapsed_ns > telemetry.SLOW_NS:
        telemetry.keep_span(tracer, "gateway request", trace.set_span_in_context(span),
                            {**attributes, "challenger.request_id": request_id}, time.time_ns() - elapsed_ns,
                            SpanKind.SERVER, error)


def inject_traceparent(span: Span, headers: dict[str, str]) -> None:
    propagate.inject(headers, context=trace.set_span_in_context(span))
