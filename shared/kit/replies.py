"""Replies: what a request/reply service answered, kept by business id, so that a repeated
request gets the same answer again without the work being done again.

The evaluator, the load tester and the prompt optimizer answer each command (an evaluation, a
load test, an optimization run) with one result event, published straight to the broker. Their
inbox (shared.kit.inbox, keyed by the business id) is what decides that the work runs once; the
reply kept here is a cache that makes every repeat end well:

- a crash after the reply was saved and before the inbox marked the request (whether or not it
  was published yet): the redelivered request finds the reply and publishes it (again; the
  requester dedupes by business id). The work is not redone and the result is not lost;
- a duplicate the inbox recognises (`Consumes.replay`): the reply is published again, since the
  first one may have been lost with a broker that restarted empty while the requester's outbox
  sent the command again.

One file per reply, `<directory>/<EventClass>.json` holding the payload, written atomically
(temp file, then rename) before it is published: a torn file can never pass for a reply.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas import Envelope, EventData, new_event
from shared.bus.producer import EventProducer

log = logging.getLogger(__name__)


def write_atomically(path: Path, text: str) -> Path:
    """Write `path` whole or not at all (temp file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def save_reply(directory: Path, reply: EventData) -> Path:
    return write_atomically(directory / f"{type(reply).__name__}.json", reply.model_dump_json(indent=2))


def stored_reply(directory: Path, types: Iterable[type[EventData]]) -> EventData | None:
    """The reply saved in `directory`, if it is one of `types`; an unreadable file counts as none."""
    for cls in types:
        path = directory / f"{cls.__name__}.json"
        if not path.exists():
            continue
        try:
            return cls.model_validate_json(path.read_text())
        except ValueError:
            log.warning("ignoring unreadable reply %s", path)
    return None


@dataclass(frozen=True)
class Replies:
    """The replies of one kind of request: `directory` says where each request's reply is kept,
    `types` what a reply can be (a result or a failure)."""

    bus: EventProducer
    source: str
    types: tuple[type[EventData], ...]
    directory: Callable[[Envelope[Any]], Path]

    def stored(self, request: Envelope[Any]) -> EventData | None:
        return stored_reply(self.directory(request), self.types)

    def save(self, request: Envelope[Any], reply: EventData) -> Path:
        return save_reply(self.directory(request), reply)

    async def send(self, request: Envelope[Any], reply: EventData) -> None:
        await self.bus.publish(new_event(reply, source=self.source, cause=request))

    async def answer(self, request: Envelope[Any], work: Callable[[], Awaitable[EventData]]) -> bool:
        """Publish the reply to `request`: the stored one if there is one (returns True), else
        the one `work` returns, saved first (returns False)."""
        reply = self.stored(request)
        if reply is not None:
            await self.send(request, reply)
            return True
        reply = await work()
        self.save(request, reply)
        await self.send(request, reply)
        return False

    async def replay(self, request: Envelope[Any]) -> None:
        """A duplicate of a request handled before: its reply again. None stored (its folder was
        removed) leaves nothing to send, and the work is not done again: say so."""
        reply = self.stored(request)
        if reply is None:
            log.warning("%s: %s %s was handled but its reply is gone; nothing to send again", self.source,
                        request.type, request.subject)
            return
        await self.send(request, reply)
