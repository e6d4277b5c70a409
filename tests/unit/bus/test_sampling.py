"""The production sampling default: whole traces by ratio, and errors and slow spans kept anyway."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

import shared.telemetry as telemetry
from shared.telemetry import KEPT, JsonLinesSpanProcessor, current_traceparent, event_span, production_sampler
from tests.unit.bus.events import submitted

UNSAMPLED = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
SAMPLED = UNSAMPLED[:-2] + "01"


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[tuple[Any, JsonLinesSpanProcessor, Path]]:
    provider = TracerProvider(sampler=production_sampler({"CHALLENGER_TRACE_RATIO": "0"}))
    path = tmp_path / "spans.jsonl"
    processor = JsonLinesSpanProcessor(path)
    provider.add_span_processor(processor)
    yield provider.get_tracer("test"), processor, path
    processor.shutdown()


def lines(processor: JsonLinesSpanProcessor, path: Path) -> list[dict[str, Any]]:
    processor.force_flush()
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_trace_outside_the_sample_records_nothing_but_still_propagates(traced) -> None:
    tracer, processor, path = traced
    with event_span(submitted("c", traceparent=UNSAMPLED), "registry", tracer) as span:
        inside = current_traceparent()
    assert not span.is_recording() and lines(processor, path) == []
    assert inside is not None and inside.endswith("-00")  # what the handler publishes stays unsampled


def test_a_sampled_parent_is_followed_whatever_the_ratio(traced) -> None:
    tracer, processor, path = traced
    with event_span(submitted("c", traceparent=SAMPLED), "registry", tracer):
        pass
    (line,) = lines(processor, path)
    assert KEPT not in line["attributes"]


def test_a_failing_handler_is_kept_with_its_error(traced) -> None:
    tracer, processor, path = traced
    with pytest.raises(RuntimeError), event_span(submitted("c", traceparent=UNSAMPLED), "registry", tracer):
        raise RuntimeError("database is locked")
    (line,) = lines(processor, path)
    assert line["status"] == "ERROR" and line["attributes"][KEPT] == "error"
    assert line["trace_id"] == UNSAMPLED.split("-")[1] and line["parent_id"] == UNSAMPLED.split("-")[2]


def test_a_slow_handler_is_kept(traced, monkeypatch: pytest.MonkeyPatch) -> None:
    tracer, processor, path = traced
    monkeypatch.setattr(telemetry, "SLOW_NS", 0)
    with event_span(submitted("c", traceparent=UNSAMPLED), "registry", tracer):
        pass
    (line,) = lines(processor, path)
    assert line["attributes"][KEPT] == "slow" and line["status"] == "UNSET"


def test_the_standard_sampler_variables_replace_the_ratio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    assert production_sampler({"OTEL_TRACES_SAMPLER": "always_off"}).get_description() == "KeepMarked{AlwaysOffSampler}"
    assert "TraceIdRatioBased{0.1}" in production_sampler({}).get_description()
