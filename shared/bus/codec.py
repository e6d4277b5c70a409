"""CloudEvents <-> Kafka (binary content mode), the `cloudevents` SDK's Kafka binding done here.

Both directions use the SDK's header names (`ce_<attribute>`, `content-type`) but not its
functions (measured by `make bench-backbone`): `from_binary` spent ~60 % of a decode in
dateutil time parsing and a validation Pydantic repeats anyway; `to_binary` wants a
BaseCloudEvent and builds a KafkaMessage and a header dict that aiokafka then needs as a list,
~20 % of an encode. Writing maps the envelope's attributes to headers in the SDK's order and
text; reading maps the headers back, and Pydantic validates them and parses the payload bytes
in one pass (Rust). Unit tests keep both byte-equal to the SDK's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.bindings.common import CONTENT_TYPE_HEADER, DATACONTENTTYPE_ATTR
from pydantic import ValidationError

from schemas import EVENT_TYPES, Envelope, EventData
from schemas.envelope import envelope_class

Headers = Sequence[tuple[str, bytes]]


SPECVERSION = "1.0"
REQUIRED = ("id", "source", "specversion")
_REQUIRED = frozenset(REQUIRED)


class PoisonMessage(Exception):
    """A message that cannot become a typed event. `reason` says why, for the DLQ."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def encode(envelope: Envelope[Any]) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Return (key, value, headers) for aiokafka: what the SDK's `to_binary` writes.

    The attributes are read from the envelope's fields in their declared order (what
    `Envelope.attributes()` dumps, without building its dict); the header of an attribute
    that names the type rather than the event (source, type, ...) is made once and reused."""
    fields = envelope.__dict__
    headers = []
    for attribute, header, static in _ATTRIBUTES:
        value = fields[attribute]
        if value is None:
            continue
        if static:
            headers.append(_static_header(header, value))
        else:
            headers.append((header, value.encode() if type(value) is str else _header_value(value)))
    return envelope.key.encode(), envelope.data.model_dump_json().encode(), headers


@lru_cache(maxsize=64)
def _header_name(attribute: str) -> str:
    return CONTENT_TYPE_HEADER if attribute == DATACONTENTTYPE_ATTR else ce_kafka.CE_PREFIX + attribute


# Attributes whose value is one per event type or producer, not per event: their header is cached.
_STATIC = frozenset({"source", "type", "specversion", "datacontenttype", "dataschema"})
_ATTRIBUTES = tuple((name, _header_name(name), name in _STATIC) for name in Envelope.model_fields if name != "data")


@lru_cache(maxsize=1024)
def _static_header(header: str, value: Any) -> tuple[str, bytes]:
    return header, value.encode() if type(value) is str else _header_value(value)


def _header_value(value: Any) -> bytes:
    """A header's bytes as the SDK writes them: str(value), a datetime in ISO 8601 with `Z`."""
    if isinstance(value, datetime):
        text = value.isoformat()
        return (text[:-6] + "Z" if text.endswith("+00:00") else text).encode()
    return str(value).encode()


def decode(key: bytes | None, value: bytes | None, headers: Headers) -> Envelope[Any]:
    """Parse and validate; raises PoisonMessage with a readable reason."""
    attrs: dict[str, Any] = attributes(headers)
    event_type = attrs.get("type")
    if event_type is None:
        raise PoisonMessage("missing header ce_type")
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        raise PoisonMessage(f"unknown event type {event_type!r}")
    if not attrs.keys() >= _REQUIRED:
        missing = [f"ce_{name}" for name in REQUIRED if name not in attrs]
        raise PoisonMessage(f"not a CloudEvent: missing header {', '.join(missing)}")
    if attrs["specversion"] != SPECVERSION:
        raise PoisonMessage(f"not a CloudEvent {SPECVERSION}: specversion {attrs['specversion']!r}")
    attrs["data"] = _payload(cls, event_type, value)  # a header named ce_data does not replace the body
    try:
        return envelope_class(cls).model_validate(attrs)
    except ValidationError as exc:
        raise PoisonMessage(f"{event_type} failed validation: {_first_errors(exc)}") from exc


def attributes(headers: Headers) -> dict[str, str]:
    """The binding's header mapping, read back: `ce_<name>` and `content-type` -> attributes."""
    attrs: dict[str, str] = {}
    for name, raw in headers:
        attribute = _KNOWN_HEADERS.get(name)
        if attribute is None and (attribute := _attribute_name(name)) is None:
            continue
        try:
            attrs[attribute] = raw.decode()
        except UnicodeDecodeError as exc:
            raise PoisonMessage(f"header {name} is not UTF-8") from exc
    return attrs


@lru_cache(maxsize=256)
def _attribute_name(header: str) -> str | None:
    lower = header.lower()
    if lower.startswith(ce_kafka.CE_PREFIX):
        return lower.removeprefix(ce_kafka.CE_PREFIX)
    return DATACONTENTTYPE_ATTR if lower == CONTENT_TYPE_HEADER else None


_KNOWN_HEADERS = {header: attribute for attribute, header, _static in _ATTRIBUTES}  # as we write them


def _payload(cls: type[EventData], event_type: str, value: bytes | None) -> EventData:
    if not value or (value[0] != _BRACE and not value.lstrip().startswith(b"{")):
        raise PoisonMessage(f"{event_type}: the body is not a JSON object ({_describe(value)})")
    try:
        return cls.model_validate_json(value)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise PoisonMessage(f"{event_type}: the body is not a JSON object ({_describe(value)}): "
                                f"{exc.errors()[0]['msg']}") from exc
        raise PoisonMessage(f"{event_type} failed validation: {_first_errors(exc, 'data')}") from exc


_BRACE = ord("{")


def _describe(value: bytes | None) -> str:
    if not value:
        return "empty"
    return f"{len(value)} bytes starting {value[:40]!r}"


def _first_errors(exc: ValidationError, prefix: str = "", limit: int = 3) -> str:
    parts = [f"{'.'.join(str(p) for p in (prefix, *e['loc']) if p != '')}: {e['msg']}" for e in exc.errors()[:limit]]
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
