"""Create the catalogue's topics with their partition counts (idempotent)."""

from __future__ import annotations

import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from schemas import TOPICS

log = logging.getLogger(__name__)


async def ensure_topics(bootstrap: str, extra: dict[str, int] | None = None) -> list[str]:
    """Create missing topics; return the names created."""
    wanted = {t.name: t.partitions for t in TOPICS} | (extra or {})
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, n, 1) for name, n in wanted.items() if name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another service won the race
                await admin.create_topics(missing)
        log.info("topics ready (%d created)", len(missing))
        return [t.name for t in missing]
    finally:
        await admin.close()
