"""Windows over production traffic, per (route, target candidate), closed by count or by
time. Pure: the caller passes the clock (event time), so replays and tests are exact."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field

from services.monitor.domain.features import Record

STAGING_SUFFIX = "-staging"
NOT_REFERENCE = frozenset({"redteam"})  # purposes whose requests look nothing like a route's users
MAX_PENDING = 10_000


@dataclass(frozen=True)
class WindowKey:
    route: str
    candidate_id: str

    def slug(self) -> str:
        return f"{self.route}/{self.candidate_id}"


@dataclass(frozen=True)
class WindowPolicy:
    """Close a window after `size` records, or `seconds` after it opened (whichever first)."""

    size: int = 50
    seconds: float | None = None


@dataclass(frozen=True)
class Window:
    key: WindowKey
    seq: int
    opened_at: float
    closed_at: float
    records: tuple[Record, ...]

    @property
    def window_id(self) -> str:
        """Sortable and stable across restarts: the event time it opened, then the sequence."""
        return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(self.opened_at))}-{self.seq:05d}"


@dataclass
class _Open:
    seq: int
    opened_at: float
    records: OrderedDict[str, Record] = field(default_factory=OrderedDict)


def reference_route(route: str) -> str | None:
    """`<task>-staging` traffic is the reference of route `<task>`."""
    return route.removesuffix(STAGING_SUFFIX) if route.endswith(STAGING_SUFFIX) else None


def counted(route: str, purpose: str | None) -> bool:
    """Whether a logged request enters the windows. On a staging route (the reference) the
    evaluator's red-team attacks are left out: they are not what the route's users send, and
    half a reference of attacks makes ordinary production traffic look drifted. On a
    production route every request counts: the purpose is what the client declared, and a
    header must not be able to hide traffic from the monitor."""
    return reference_route(route) is None or purpose not in NOT_REFERENCE


def monitored(route: str, routes: frozenset[str] | None) -> bool:
    """Whether `route` (or the production route whose reference it is) is watched."""
    return routes is None or (reference_route(route) or route) in routes


class Windows:
    """Open windows per key. `add` and `tick` return the windows that closed."""

    def __init__(self, policy: WindowPolicy) -> None:
        self.policy = policy
        self._open: dict[WindowKey, _Open] = {}
        self._seq: dict[WindowKey, int] = {}
        self._pending: OrderedDict[tuple[str, str], dict[str, float]] = OrderedDict()

    def add(self, record: Record) -> list[Window] | None:
        """Put `record` in its window; return the windows that closed. None when that window
        holds it already: the same event delivered again (same request id, same event time: a
        batch retried event by event, a consumer restarted before its commit), which must not
        count twice. The monitor dedupes records here and nowhere else. The same request id at
        another time is another request that reused the id (a client's x-request-id): it
        replaces the held one."""
        key = WindowKey(record.route, record.candidate_id)
        current = self._open.get(key)
        if current is not None and (held := current.records.get(record.request_id)) and held.at == record.at:
            return None
        closed = self.tick(record.at)
        if closed:  # a time window of this key may have closed
            current = self._open.get(key)
        for name, value in self._pending.pop((record.route, record.request_id), {}).items():
            record = record.with_feature(name, value)
        current = current or self._start(key, record.at)
        current.records[record.request_id] = record
        if len(current.records) >= self.policy.size:
            closed.append(self._close(key, record.at))
        return closed

    def tick(self, now: float) -> list[Window]:
        if self.policy.seconds is None:
            return []
        due = [k for k, w in self._open.items() if now - w.opened_at >= self.policy.seconds]
        return [self._close(k, now) for k in due]

    def open_records(self) -> list[Record]:
        """Every record the open windows hold, oldest window first."""
        return [r for current in self._open.values() for r in current.records.values()]

    def drop(self, routes: set[str]) -> None:
        """Forget the open windows (and the waiting late features) of `routes`: another instance
        holds them now. Their sequence numbers stay, so a window id is not reused here."""
        for key in [k for k in self._open if k.route in routes]:
            del self._open[key]
        for pending in [p for p in self._pending if p[0] in routes]:
            del self._pending[pending]

    def open_sizes(self) -> dict[WindowKey, int]:
        return {key: len(current.records) for key, current in self._open.items()}

    def set_feature(self, route: str, request_id: str, name: str, value: float) -> bool:
        """Attach a late feature (feedback) to a record in an open window of `route`; if the record
        has not arrived yet, keep it (bounded) until it does. False when it came too late."""
        for key, current in self._open.items():
            if key.route == route and request_id in current.records:
                current.records[request_id] = current.records[request_id].with_feature(name, value)
                return True
        self._pending.setdefault((route, request_id), {})[name] = value
        while len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)
        return False

    def _start(self, key: WindowKey, at: float) -> _Open:
        seq = self._seq.get(key, 0) + 1
        self._seq[key] = seq
        self._open[key] = _Open(seq, at)
        return self._open[key]

    def _close(self, key: WindowKey, at: float) -> Window:
        current = self._open.pop(key)
        return Window(key, current.seq, current.opened_at, at, tuple(current.records.values()))
