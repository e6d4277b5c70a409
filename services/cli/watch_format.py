"""Turn one Kafka record into one readable line for `challenger watch`. Pure: no I/O.

A record that is not a valid event is still shown (as POISON, or DEAD LETTER for the DLQ)
so the tail never crashes on bad input.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from schemas import DLQ_TOPIC
from schemas.envelope import TYPE_PREFIX
from shared.bus.codec import PoisonMessage, decode

MAX_VALUE = 40
MAX_FIELDS = 8


@dataclass(frozen=True)
class RawRecord:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class WatchLine:
    time: str
    kind: str
    subject: str
    fields: str
    ids: frozenset[str]
    bad: bool = False

    def text(self) -> str:
        return f"{self.time}  {self.kind:<28} {self.subject:<24} {self.fields}".rstrip()

    def about(self, candidate: str | None) -> bool:
        return candidate is None or candidate in self.ids


def render(record: RawRecord) -> WatchLine:
    if record.topic == DLQ_TOPIC:
        return _dead_letter(record)
    try:
        event = decode(record.key, record.value, record.headers)
    except PoisonMessage as exc:
        return _bad(record, "POISON", f"{record.topic}[{record.partition}]@{record.offset} reason={exc.reason}")
    data = event.data.model_dump(mode="json")
    subject = event.subject or event.key
    ids = {subject, event.key, str(data.get("candidate_id", ""))} - {""}
    return WatchLine(time=_clock(event.time), kind=event.type.removeprefix(TYPE_PREFIX), subject=subject,
                     fields=key_fields(data, skip=ids), ids=frozenset(ids))


def _dead_letter(record: RawRecord) -> WatchLine:
    headers = {name: raw.decode(errors="replace") for name, raw in record.headers}
    origin = f"{headers.get('dlq_topic', '?')}[{headers.get('dlq_partition', '?')}]@{headers.get('dlq_offset', '?')}"
    fields = f"from={origin} consumer={headers.get('dlq_consumer', '?')} reason={headers.get('dlq_reason', '?')}"
    return _bad(record, "DEAD LETTER", fields)


def _bad(record: RawRecord, kind: str, fields: str) -> WatchLine:
    key = (record.key or b"").decode(errors="replace")
    stamp = datetime.fromtimestamp(record.timestamp_ms / 1000, UTC)
    return WatchLine(time=_clock(stamp), kind=kind, subject=key or "-", fields=fields,
                     ids=frozenset({key} - {""}), bad=True)


def _clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%S.%f")[:-3]


def key_fields(data: dict[str, Any], skip: Collection[str] = ()) -> str:
    """The scalar fields of a payload (one level into nested objects), short enough to read; a
    reason is shown whole (its figures are why a stage moved)."""
    pairs = [(k, v) for k, v in _flatten(data) if v not in (None, "", [], {}) and str(v) not in skip]
    shown = [f"{k}={_whole(v) if k.endswith('reason') else _short(v)}" for k, v in pairs[:MAX_FIELDS]]
    more = len(pairs) - MAX_FIELDS
    return " ".join(shown) + (f" (+{more})" if more > 0 else "")


def _flatten(data: dict[str, Any]) -> list[tuple[str, Any]]:
    flat = [(k, v) for k, v in data.items() if not isinstance(v, dict)]
    for k, v in data.items():
        if isinstance(v, dict):
            flat += [(f"{k}.{sub}", sv) for sub, sv in v.items() if not isinstance(sv, dict | list)]
    return flat


def _whole(value: Any) -> str:
    return str(value).replace("\n", " ")


def _short(value: Any) -> str:
    if isinstance(value, list):
        return f"[{len(value)}]"
    text = str(value).replace("\n", " ")
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"
