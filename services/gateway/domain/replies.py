"""The gateway's HTTP replies: one shape for full bodies, streams and OpenAI-style errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

JSON = b"application/json"


@dataclass
class Reply:
    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None


def meta_headers(request_id: str, target: str | None = None, cache: str | None = None) -> list[tuple[bytes, bytes]]:
    headers = [(b"x-request-id", request_id.encode())]
    if target is not None:
        headers.append((b"x-challenger-target", target.encode()))
    if cache is not None:
        headers.append((b"x-cache", cache.encode()))
    return headers


def json_reply(status: int, payload: bytes, headers: list[tuple[bytes, bytes]],
               content_type: bytes = JSON) -> Reply:
    return Reply(status, [(b"content-type", content_type), *headers], payload)


def error_reply(status: int, message: str, kind: str, request_id: str, **extra: Any) -> Reply:
    body = json.dumps({"error": {"message": message, "type": kind, "code": status, **extra}}).encode()
    return json_reply(status, body, meta_headers(request_id))
