"""The request span carries the GenAI semantic-convention attributes."""

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.gateway.spans import finish_span, start_request_span


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
    finish_span(span, target="cand-a", model="smollm2", usage=(12, 34), status=200, cache="bypass")
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
    finish_span(span, target=None, model=None, usage=(0, 0), status=503, error="no_target_left")
    (done,) = [s for s in exporter.get_finished_spans() if s.attributes.get("challenger.request_id") == "req-2"]
    assert done.name == "text_completion r" and done.attributes["error.type"] == "no_target_left"
    assert done.status.status_code.name == "ERROR"
