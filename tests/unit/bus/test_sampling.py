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


@pytest.fixture
def ratio_traced(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Any, JsonLinesSpanProcessor, Path]]:
    provider = TracerProvider(sampler=production_sampler({"CHALLENGER_TRACE_RATIO": request.param}))
    path = tmp_path / "spans.jsonl"
    processor = JsonLinesSpanProcessor(path)
    provider.add_span_processor(processor)
    yield provider.get_tracer("test"), processor, path
    processor.shutdown()


@pytest.mark.parametrize("ratio_traced", ["1"], indirect=True)
def test_a_root_event_drawn_into_the_sample_is_recorded_once_without_the_marker(ratio_traced) -> None:
    tracer, processor, path = ratio_traced
    with event_span(submitted("c"), "registry", tracer) as span:
        inside, recording = current_traceparent(), span.is_recording()
    (line,) = lines(processor, path)
    assert recording and inside is not None and int(inside[-2:], 16) & 1  # sampled
    assert line["parent_id"] is None and telemetry.DECIDED not in line["attributes"] and KEPT not in line["attributes"]


@pytest.mark.parametrize("ratio_traced", ["0"], indirect=True)
def test_a_root_event_left_out_of_the_sample_starts_a_trace_that_travels_unsampled(ratio_traced) -> None:
    tracer, processor, path = ratio_traced
    with event_span(submitted("c"), "registry", tracer) as span:
        inside = current_traceparent()
    context = span.get_span_context()
    assert not span.is_recording() and context.is_valid and not context.is_remote
    assert inside == f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    assert not int(inside[-2:], 16) & 1  # not sampled
    assert context.trace_flags == tracer.start_span("the SDK's own").get_span_context().trace_flags
    assert lines(processor, path) == [] and current_traceparent() is None


def test_an_unsampled_parent_gives_the_span_context_the_sdk_would(traced) -> None:
    tracer, _processor, _path = traced
    parent = telemetry.context_from_traceparent(UNSAMPLED)
    with event_span(submitted("c", traceparent=UNSAMPLED), "registry", tracer) as span:
        ours = span.get_span_context()
    sdk = tracer.start_span("the SDK's own", context=parent).get_span_context()
    assert (ours.trace_id, ours.trace_flags, ours.trace_state, ours.is_remote) == (
        sdk.trace_id, sdk.trace_flags, sdk.trace_state, sdk.is_remote)
    assert ours.span_id not in (0, int(UNSAMPLED.split("-")[2], 16))


def test_the_ratio_is_drawn_once_per_root_event(tmp_path: Path) -> None:
    """The decision event_span takes for a root is the one the SDK's span follows (not a
    second draw): at ratio 0.5 about half the events are recorded, not a quarter."""
    provider = TracerProvider(sampler=production_sampler({"CHALLENGER_TRACE_RATIO": "0.5"}))
    tracer = provider.get_tracer("test")
    recorded = 0
    for _ in range(2000):
        with event_span(submitted("c"), "registry", tracer) as span:
            recorded += span.is_recording()
    assert 800 < recorded < 1200


@pytest.mark.parametrize("traceparent", [
    UNSAMPLED, SAMPLED, UNSAMPLED.upper(), " " + SAMPLED, SAMPLED + "-extra", "01-" + SAMPLED[3:] + "-x",
    "ff-" + SAMPLED[3:], "00-" + "0" * 32 + "-b7ad6b7169203331-01", SAMPLED[:-19] + "0" * 16 + "-01",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03", "garbage", "",
])
def test_the_traceparent_reader_agrees_with_the_w3c_propagator(traceparent: str) -> None:
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    ours = trace.get_current_span(telemetry.context_from_traceparent(traceparent)).get_span_context()
    theirs = trace.get_current_span(TraceContextTextMapPropagator().extract(
        {"traceparent": traceparent} if traceparent else {})).get_span_context()
    assert ours == theirs


def test_the_current_traceparent_is_what_the_propagator_injects(traced) -> None:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    tracer, _processor, _path = traced
    for parent in (UNSAMPLED, SAMPLED, None):
        with event_span(submitted("c", traceparent=parent), "registry", tracer):
            carrier: dict[str, str] = {}
            TraceContextTextMapPropagator().inject(carrier)
            assert current_traceparent() == carrier["traceparent"]


@pytest.mark.parametrize("environ", [{}, {"CHALLENGER_TRACE_RATIO": "0.3"}, {"OTEL_TRACES_SAMPLER": "traceidratio",
                                                                           "OTEL_TRACES_SAMPLER_ARG": "0.5"}])
def test_the_samplers_own_shortcut_decides_as_should_sample(environ: dict[str, str], monkeypatch) -> None:
    import random

    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    sampler = production_sampler(environ)
    parents = [None, UNSAMPLED, SAMPLED, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03"]
    for _ in range(500):
        parent = telemetry.context_from_traceparent(random.choice(parents))
        parent_context = trace.get_current_span(parent).get_span_context()
        trace_id = parent_context.trace_id if parent_context.is_valid else random.getrandbits(128)
        result = sampler.should_sample(parent, trace_id, "handle x", SpanKind.CONSUMER)
        assert sampler.decide(parent, parent_context, trace_id, "handle x", SpanKind.CONSUMER) == (
            result.decision.is_recording(), result.trace_state)
