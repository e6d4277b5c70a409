"""CloudEvents <-> Kafka (binary content mode) through the `cloudevents` SDK's Kafka binding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import ValidationError

from schemas import EVENT_TYPES, Envelope

_FORMAT = JSONFormat()
Headers = Sequence[tuple[str, bytes]]


class PoisonMessage(Exception):
    """A message that cannot become a typed event. `reason` says why, for the DLQ."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def encode(envelope: Envelope[Any]) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Return (key, value, headers) for aiokafka."""
    attrs = envelope.attributes()
    event = CloudEvent(attributes=attrs, data=envelope.data.model_dump(mode="json"))
    message = ce_kafka.to_binary(event, _FORMAT, key_mapper=lambda _e: envelope.key)
    key = message.key.encode() if isinstance(message.key, str) else (message.key or b"")
    return key, message.value, list(message.headers.items())


def decode(key: bytes | None, value: bytes | None, headers: Headers) -> Envelope[Any]:
    """Parse and validate; raises PoisonMessage with a readable reason."""
    header_map = {name: raw for name, raw in headers}
    event_type = _header(header_map, "ce_type")
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        raise PoisonMessage(f"unknown event type {event_type!r}")
    try:
        message = ce_kafka.KafkaMessage(headers=header_map, key=None, value=value or b"")
        event = ce_kafka.from_binary(message, _FORMAT)
    except Exception as exc:  # the SDK raises several types for malformed input
        raise PoisonMessage(f"not a CloudEvent: {type(exc).__name__}: {exc}") from exc
    data = event.get_data()
    if not isinstance(data, dict):
        raise PoisonMessage(f"{event_type}: the body is not a JSON object ({_describe(value)})")
    attrs = dict(event.get_attributes())
    try:
        return Envelope[cls].model_validate({**attrs, "data": data})  # type: ignore[valid-type]
    except ValidationError as exc:
        raise PoisonMessage(f"{event_type} failed validation: {_first_errors(exc)}") from exc


def _describe(value: bytes | None) -> str:
    if not value:
        return "empty"
    return f"{len(value)} bytes starting {value[:40]!r}"


def _header(headers: dict[str, bytes], name: str) -> str:
    raw = headers.get(name)
    if raw is None:
        raise PoisonMessage(f"missing header {name}")
    try:
        return raw.decode()
    except UnicodeDecodeError as exc:
        raise PoisonMessage(f"header {name} is not UTF-8") from exc


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:limit]]
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
