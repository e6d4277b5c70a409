"""OTel spans of proxied calls, with the GenAI semantic-convention attributes."""

from __future__ import annotations

from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

tracer = trace.get_tracer("challenger.gateway")

OPERATION = {"chat": "chat", "completions": "text_completion"}
_REQUEST_ATTRS = {"temperature": "gen_ai.request.temperature", "top_p": "gen_ai.request.top_p",
                  "max_tokens": "gen_ai.request.max_tokens", "seed": "gen_ai.request.seed",
                  "frequency_penalty": "gen_ai.request.frequency_penalty",
                  "presence_penalty": "gen_ai.request.presence_penalty"}


def start_request_span(kind: str, body: dict[str, Any], headers: dict[str, str], request_id: str) -> Span:
    parent = propagate.extract(headers) if "traceparent" in headers else None
    span = tracer.start_span(f"{OPERATION[kind]} {body['model']}", context=parent, kind=SpanKind.SERVER)
    span.set_attribute("gen_ai.operation.name", OPERATION[kind])
    span.set_attribute("gen_ai.request.model", body["model"])
    span.set_attribute("challenger.request_id", request_id)
    for field_name, attr in _REQUEST_ATTRS.items():
        value = body.get(field_name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            span.set_attribute(attr, value)
    if body.get("stream"):
        span.set_attribute("gen_ai.request.stream", True)
    return span


def finish_span(span: Span, *, target: str | None, model: str | None, usage: tuple[int, int],
                status: int, cache: str | None = None, error: str | None = None) -> None:
    if target:
        span.set_attribute("challenger.target", target)
    if model:
        span.set_attribute("gen_ai.response.model", model)
    span.set_attribute("gen_ai.usage.input_tokens", usage[0])
    span.set_attribute("gen_ai.usage.output_tokens", usage[1])
    span.set_attribute("http.response.status_code", status)
    if cache:
        span.set_attribute("challenger.cache", cache)
    if error:
        span.set_attribute("error.type", error)
        span.set_status(Status(StatusCode.ERROR, error))
    span.end()


def inject_traceparent(span: Span, headers: dict[str, str]) -> None:
    propagate.inject(headers, context=trace.set_span_in_context(span))
