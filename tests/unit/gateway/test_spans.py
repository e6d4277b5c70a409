"""The request span carries the GenAI semantic-convention attributes."""

import time

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.gateway.adapters import spans
from services.gateway.adapters.spans import finish_span, start_request_span
from shared.telemetry import KEPT, production_sampler


def _exporter() -> InMemorySpanExporter:
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    exporter = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[attr-defined]
    return exporter


def test_genai_attributes_and_incoming_trace_context():
    exporter = _exporter()
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    span = start_request_span("chat", {"model": "support-bot", "temperature": 0, "max_tokens": 64, "stream": True},
                              {"traceparent": parent}, "req-1")
    finish_span(span, target="cand-a", model="smollm2", usage=(12, 34), status=200, cache="bypass",
                started=time.perf_counter(), request_id="req-1")
    (done,) = [s for s in exporter.get_finished_spans() if s.attributes.get("challenger.request_id") == "req-1"]
    a = done.attributes
    assert done.name == "chat support-bot"
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.request.model"] == "support-bot"
    assert a["gen_ai.request.temperature"] == 0 and a["gen_ai.request.max_tokens"] == 64
    assert a["gen_ai.response.model"] == "smollm2" and a["challenger.target"] == "cand-a"
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (12, 34)
    assert f"{done.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"


def test_errors_mark_the_span():
    exporter = _exporter()
    span = start_request_span("completions", {"model": "r"}, {}, "req-2")
    finish_span(span, target=None, model=None, usage=(0, 0), status=503, error="no_target_left",
                started=time.perf_counter(), request_id="req-2")
    (done,) = [s for s in exporter.get_finished_spans() if s.attributes.get("challenger.request_id") == "req-2"]
    assert done.name == "text_completion r" and done.attributes["error.type"] == "no_target_left"
    assert done.status.status_code.name == "ERROR"


UNSAMPLED = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"}


def _sampled_like_production(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    provider = TracerProvider(sampler=production_sampler({"CHALLENGER_TRACE_RATIO": "0"}))
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(spans, "tracer", provider.get_tracer("test"))
    return exporter


def test_outside_the_sample_a_failed_request_is_kept_and_a_good_one_is_not(monkeypatch: pytest.MonkeyPatch):
    exporter = _sampled_like_production(monkeypatch)
    for request_id, error in (("ok", None), ("bad", "no_target_left")):
        span = start_request_span("chat", {"model": "r"}, UNSAMPLED, request_id)
        assert not span.is_recording()
        finish_span(span, target=None, model=None, usage=(0, 0), status=200 if error is None else 503,
                    error=error, started=time.perf_counter(), request_id=request_id)
    (kept,) = exporter.get_finished_spans()
    assert kept.attributes["challenger.request_id"] == "bad" and kept.attributes[KEPT] == "error"
    assert kept.status.status_code.name == "ERROR" and f"{kept.context.trace_id:032x}" == UNSAMPLED["traceparent"][3:35]


def test_outside_the_sample_a_slow_request_is_kept(monkeypatch: pytest.MonkeyPatch):
    exporter = _sampled_like_production(monkeypatch)
    span = start_request_span("chat", {"model": "r"}, UNSAMPLED, "slow")
    finish_span(span, target="c", model="m", usage=(1, 1), status=200, started=time.perf_counter() - 60,
                request_id="slow")
    (kept,) = exporter.get_finished_spans()
    assert kept.attributes[KEPT] == "slow" and kept.end_time - kept.start_time >= 59e9
