"""What may be cached and under which key. Exact match only, deterministic requests only.

The key binds route, serving candidate, prompt version, the target's serving profile and
every request field that can change the answer, so an answer is never served across candidates or decoding settings.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from schemas.events.deployments import RouteTable, RouteTarget

# fields that do not change the answer's content
_NEUTRAL = frozenset({"model", "stream", "stream_options", "user"})


def is_deterministic(body: dict[str, Any]) -> bool:
    temperature = body.get("temperature", 1.0)
    seed = body.get("seed")
    greedy = isinstance(temperature, int | float) and not isinstance(temperature, bool) and temperature == 0
    seeded = isinstance(seed, int) and not isinstance(seed, bool)
    return greedy or seeded


def bypass_reason(table: RouteTable, body: dict[str, Any]) -> str | None:
    """Why this request must not touch the cache, or None when it may."""
    if not table.cache_ttl_s:
        return "route has no cache"
    if body.get("stream"):
        return "streaming"
    if not is_deterministic(body):
        return "not deterministic (needs temperature 0 or a seed)"
    if isinstance(body.get("n"), int) and body["n"] > 1 and not isinstance(body.get("seed"), int):
        return "several choices without a seed"
    return None


def cache_key(prefix: str, kind: str, route: str, target: RouteTarget, body: dict[str, Any]) -> str:
    material = {
        "kind": kind, "route": route, "candidate": target.candidate_id, "model": target.model,
        "prompt_version": target.prompt_version,
        "request": {k: v for k, v in body.items() if k not in _NEUTRAL},
    }
    if target.serving is not None:  # the prompt, defaults and steps the answer went through
        material["serving"] = target.serving.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return f"{prefix}{route}:{target.candidate_id}:{digest}"
