"""The CloudEvents Kafka binding round trip and the reasons codec.decode gives for bad input."""

from __future__ import annotations

import json

import pytest

from schemas import new_event
from schemas.events.models import ModelApproved, ModelSubmitted
from shared.bus.codec import PoisonMessage, decode, encode
from tests.unit.bus.events import submitted

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_round_trip_keeps_every_attribute_and_the_typed_payload() -> None:
    cause = submitted("cand-7", traceparent=TRACEPARENT)
    event = new_event(ModelApproved(candidate_id="cand-7", approver="bob"), source="tests", cause=cause)

    back = decode(*encode(event))

    assert back == event
    assert isinstance(back.data, ModelApproved)
    assert (back.correlationid, back.causationid, back.traceparent) == (cause.correlationid, cause.id, TRACEPARENT)


def test_binary_mode_puts_attributes_in_ce_headers_and_key_is_the_candidate() -> None:
    event = submitted("cand-42")

    key, value, headers = encode(event)

    names = dict(headers)
    assert key == b"cand-42"
    assert names["ce_type"] == b"io.challenger.model.submitted"
    assert names["ce_id"] == event.id.encode()
    assert names["ce_correlationid"] == event.correlationid.encode()
    assert "ce_causationid" not in names  # absent optional extensions are not sent as empty headers
    assert json.loads(value)["spec"]["model"] == "smollm2"


def _with_header(headers: list[tuple[str, bytes]], name: str, raw: bytes | None) -> list[tuple[str, bytes]]:
    kept = [(k, v) for k, v in headers if k != name]
    return kept if raw is None else kept + [(name, raw)]


@pytest.mark.parametrize(
    ("header", "raw", "reason"),
    [
        ("ce_type", None, "missing header ce_type"),
        ("ce_type", b"io.challenger.nothing.happened", "unknown event type 'io.challenger.nothing.happened'"),
        ("ce_type", b"\xff\xfe", "header ce_type is not UTF-8"),
    ],
)
def test_bad_type_header_is_named(header: str, raw: bytes | None, reason: str) -> None:
    key, value, headers = encode(submitted())

    with pytest.raises(PoisonMessage) as info:
        decode(key, value, _with_header(headers, header, raw))

    assert info.value.reason == reason


def test_body_that_is_not_json_is_named() -> None:
    key, _value, headers = encode(submitted())

    with pytest.raises(PoisonMessage, match=r"body is not a JSON object \(9 bytes starting b.\{not json.\)"):
        decode(key, b"{not json", headers)


def test_validation_failure_names_the_type_and_the_field() -> None:
    key, value, headers = encode(submitted())
    body = json.loads(value)
    body["spec"]["decoding"] = {"temperature": 9.0}

    with pytest.raises(PoisonMessage) as info:
        decode(key, json.dumps(body).encode(), headers)

    assert info.value.reason.startswith("io.challenger.model.submitted failed validation: ")
    assert "data.spec.decoding.temperature" in info.value.reason
    assert "less than or equal to 2" in info.value.reason


def test_unknown_payload_field_is_rejected_not_dropped() -> None:
    key, value, headers = encode(submitted())
    body = json.loads(value) | {"surprise": 1}

    with pytest.raises(PoisonMessage, match=r"data\.surprise: Extra inputs are not permitted"):
        decode(key, json.dumps(body).encode(), headers)


def test_a_type_header_that_does_not_match_the_body_fails_validation() -> None:
    key, value, headers = encode(submitted())
    lying = _with_header(headers, "ce_type", ModelApproved.event_type.encode())

    with pytest.raises(PoisonMessage, match="io.challenger.model.approved failed validation"):
        decode(key, value, lying)


@pytest.mark.parametrize(("value", "what"), [(None, "empty"), (b"[1, 2]", "6 bytes")])
def test_empty_or_non_object_body_is_poison(value: bytes | None, what: str) -> None:
    key, _value, headers = encode(submitted())

    with pytest.raises(PoisonMessage, match=f"body is not a JSON object \\({what}"):
        decode(key, value, headers)


def test_submitted_payload_class_is_resolved_from_the_type() -> None:
    back = decode(*encode(submitted()))

    assert type(back.data) is ModelSubmitted


def test_our_header_reader_agrees_with_the_sdk_from_binary() -> None:
    from cloudevents.core.bindings import kafka as ce_kafka
    from cloudevents.core.formats.json import JSONFormat

    from shared.bus.codec import attributes

    key, value, headers = encode(submitted("cand-5", traceparent=TRACEPARENT))
    sdk = ce_kafka.from_binary(ce_kafka.KafkaMessage(headers=dict(headers), key=None, value=value), JSONFormat())

    ours = attributes(headers)

    theirs = sdk.get_attributes()
    assert ours.keys() == theirs.keys()
    assert {k: v for k, v in ours.items() if k != "time"} == {k: str(v) for k, v in theirs.items() if k != "time"}
    assert decode(key, value, headers).time == theirs["time"]
    assert json.loads(value) == sdk.get_data()


@pytest.mark.parametrize(("header", "raw", "reason"), [
    ("ce_id", None, "not a CloudEvent: missing header ce_id"),
    ("ce_specversion", b"0.3", "not a CloudEvent 1.0: specversion '0.3'"),
    ("ce_source", b"\xff", "header ce_source is not UTF-8"),
])
def test_a_message_that_is_not_a_cloudevent_1_0_says_which_header(header: str, raw: bytes | None,
                                                                   reason: str) -> None:
    key, value, headers = encode(submitted())

    with pytest.raises(PoisonMessage) as info:
        decode(key, value, _with_header(headers, header, raw))

    assert info.value.reason == reason


def test_our_writer_gives_the_same_headers_as_the_sdk_cloudevent() -> None:
    from cloudevents.core.bindings import kafka as ce_kafka
    from cloudevents.core.formats.json import JSONFormat
    from cloudevents.core.v1.event import CloudEvent

    event = submitted("cand-6", traceparent=TRACEPARENT)
    sdk_event = CloudEvent(attributes=event.attributes(), data=event.data.model_dump_json().encode())
    sdk = ce_kafka.to_binary(sdk_event, JSONFormat(), key_mapper=lambda _e: event.key)

    key, value, headers = encode(event)

    assert headers == list(sdk.headers.items())  # same headers, same order: the same bytes on the wire
    assert value == sdk.value  # the payload as Pydantic writes it, as the SDK sends bytes it is given
    assert key == sdk.key.encode()
