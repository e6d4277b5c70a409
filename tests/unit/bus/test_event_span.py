"""The consumer span: a child of the producer's `traceparent`, current while the handler runs,
written as one JSON line by the span processor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from shared.telemetry import JsonLinesSpanProcessor, current_traceparent, event_span
from tests.unit.bus.events import submitted

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PRODUCER_SPAN = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PRODUCER_SPAN}-01"


@pytest.fixture
def spans(tmp_path: Path) -> Iterator[tuple[JsonLinesSpanProcessor, Path]]:
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    path = tmp_path / "traces" / "bus.jsonl"
    processor = JsonLinesSpanProcessor(path)
    trace.get_tracer_provider().add_span_processor(processor)  # type: ignore[attr-defined]
    yield processor, path
    processor.shutdown()


def _lines(processor: JsonLinesSpanProcessor, path: Path) -> list[dict[str, Any]]:
    processor.force_flush()
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_handler_span_continues_the_producers_trace_and_is_current_for_what_it_publishes(spans) -> None:
    processor, path = spans
    event = submitted("cand-3", traceparent=TRACEPARENT)

    with event_span(event, "registry") as span:
        inside = current_traceparent()
    span_id = f"{span.get_span_context().span_id:016x}"

    (line,) = _lines(processor, path)
    assert inside == f"00-{TRACE_ID}-{span_id}-01"  # an event the handler publishes links to this span
    assert (line["trace_id"], line["parent_id"], line["span_id"]) == (TRACE_ID, PRODUCER_SPAN, span_id)
    assert line["name"] == "handle io.challenger.model.submitted" and line["status"] == "UNSET"
    assert line["attributes"] == {
        "messaging.system": "kafka",
        "messaging.destination.name": event.topic,
        "messaging.message.id": event.id,
        "messaging.consumer.group.name": "registry",
        "challenger.correlation_id": event.correlationid,
    }
    assert line["end_ns"] >= line["start_ns"] > 0


def test_an_event_without_traceparent_starts_a_trace_and_a_failing_handler_marks_its_span(spans) -> None:
    processor, path = spans

    with pytest.raises(ValueError), event_span(submitted(), "registry"):
        raise ValueError("boom")

    (line,) = _lines(processor, path)
    assert line["parent_id"] is None and line["status"] == "ERROR"
    assert current_traceparent() is None  # the span is no longer current


def test_spans_not_sampled_are_not_written(spans) -> None:
    processor, path = spans
    unsampled = f"00-{TRACE_ID}-{PRODUCER_SPAN}-00"

    with event_span(submitted(traceparent=unsampled), "registry"):
        pass

    processor.force_flush()
    assert not path.exists()
