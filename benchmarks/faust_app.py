"""The Faust app factory of the benchmarks' Faust attempt (no service runs Faust: see
docs/architecture.md), with the settings the embedded broker needs.

Tansu's JoinGroup waits the full rebalance timeout, so Faust's defaults leave a worker
idle ~30 s before it consumes. Embedded mode shortens the rebalance and session timeouts.
Values are raw bytes: agents decode them with `shared.bus.codec` so poison messages can
be dead-lettered with the original bytes (Faust's own codecs would drop them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust

EMBEDDED_TIMEOUTS: dict[str, Any] = {
    "broker_rebalance_timeout": 3.0,
    "broker_session_timeout": 6.0,
    "broker_heartbeat_interval": 1.0,
    "broker_request_timeout": 30.0,
    "consumer_auto_offset_reset": "earliest",
}


def create_app(name: str, bootstrap: str, *, home: Path, embedded: bool = True, **overrides: Any) -> faust.App:
    datadir = home / "faust" / name
    datadir.parent.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    settings: dict[str, Any] = {
        "broker": f"kafka://{bootstrap}",
        "value_serializer": "raw",
        "key_serializer": "raw",
        "datadir": str(datadir),
        "web_enabled": False,
        "topic_allow_declare": True,
        "topic_disable_leader": True,
    }
    if embedded:
        settings |= EMBEDDED_TIMEOUTS
    return faust.App(f"challenger-{name}", **(settings | overrides))
