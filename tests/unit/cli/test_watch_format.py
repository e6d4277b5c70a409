"""`challenger watch` lines: readable for good events, explicit for poison and dead letters."""

from __future__ import annotations

from schemas import DLQ_TOPIC
from services.cli.watch_format import RawRecord, key_fields, render
from shared.bus.codec import encode
from tests.unit.bus.events import submitted


def _record(topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> RawRecord:
    return RawRecord(topic, 2, 17, 1_700_000_000_123, key, value, headers)


def test_an_event_shows_time_short_type_subject_and_payload_fields() -> None:
    event = submitted("cand-9")

    line = render(_record("challenger.models", *encode(event)))

    assert line.kind == "model.submitted" and line.subject == "cand-9" and not line.bad
    assert line.time == event.time.strftime("%H:%M:%S.%f")[:-3]
    assert line.fields.startswith("submitted_by=alice spec.name=smol spec.model=smollm2")
    assert "candidate_id" not in line.fields  # already the subject
    assert line.about("cand-9") and line.about(None) and not line.about("cand-8")


def test_poison_is_shown_with_where_it_was_and_why() -> None:
    key, _value, headers = encode(submitted("cand-9"))

    line = render(_record("challenger.models", key, b"garbage", headers))

    assert line.bad and line.kind == "POISON" and line.subject == "cand-9"
    assert line.fields.startswith("challenger.models[2]@17 reason=io.challenger.model.submitted: the body is not")
    assert line.time == "22:13:20.123"


def test_a_dead_letter_shows_its_origin_consumer_and_reason() -> None:
    headers = [("dlq_topic", b"challenger.models"), ("dlq_partition", b"1"), ("dlq_offset", b"5"),
               ("dlq_consumer", b"deployer"), ("dlq_reason", b"missing header ce_type")]

    line = render(_record(DLQ_TOPIC, b"cand-3", b"\x00\x01", headers))

    assert line.bad and line.kind == "DEAD LETTER" and line.about("cand-3")
    assert line.fields == "from=challenger.models[1]@5 consumer=deployer reason=missing header ce_type"


def test_records_without_key_or_headers_never_crash() -> None:
    line = render(_record("challenger.models", None, None, []))

    assert line.bad and line.subject == "-" and "missing header ce_type" in line.fields


def test_key_fields_shorten_long_values_count_lists_and_say_how_many_were_left_out() -> None:
    data = {"a": "x" * 100, "b": [1, 2, 3], "c": None, **{f"f{i}": i for i in range(9)}}

    text = key_fields(data)

    assert text.startswith("a=" + "x" * 39 + "… b=[3] f0=0")
    assert text.endswith("(+3)")
