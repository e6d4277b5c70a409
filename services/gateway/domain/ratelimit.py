"""Per-key rate limits (requests and tokens per minute) as pure arithmetic.

A sliding-window estimate over two fixed one-minute windows: the previous window's count,
weighted by how much of it still overlaps the last 60 s, plus the current window's count.
Two counters per key and minute are all a store keeps (Redis or a dict), and a burst at a
window's edge cannot pass twice the limit as it could with fixed windows.

Requests are counted when they are admitted; tokens (prompt + completion) when the answer
is known, so a request is refused once the tokens already spent reach the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

WINDOW_S = 60


@dataclass(frozen=True)
class Limits:
    """Per-minute limits; None means no limit."""

    rpm: int | None = None
    tpm: int | None = None

    @property
    def any(self) -> bool:
        return self.rpm is not None or self.tpm is not None


@dataclass(frozen=True)
class Counts:
    """One key's counters: the previous and current window's requests and tokens. `requests`
    includes the request being decided."""

    prev_requests: int
    requests: int
    prev_tokens: int
    tokens: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: int = 0
    reason: str = ""


ALLOW = Decision(True)


def window_of(now_s: float) -> tuple[int, float]:
    """(index of the fixed window holding `now_s`, seconds elapsed in it)."""
    index = int(now_s // WINDOW_S)
    return index, now_s - index * WINDOW_S


def estimate(prev: int, current: int, elapsed_s: float) -> float:
    """The count over the last WINDOW_S seconds, the previous window weighted by its overlap."""
    return prev * (1 - elapsed_s / WINDOW_S) + current


def seconds_until(prev: int, current: int, bound: float, elapsed_s: float) -> float:
    """The shortest wait after which `estimate` is at most `bound`, if nothing more is counted."""
    if current <= bound:
        if prev <= 0:
            return 0.0
        return max(0.0, WINDOW_S * (1 - (bound - current) / prev) - elapsed_s)
    # only the next window helps: there the current count becomes the (shrinking) previous one
    return (WINDOW_S - elapsed_s) + WINDOW_S * (1 - max(bound, 0) / current)


def decide(limits: Limits, counts: Counts, elapsed_s: float) -> Decision:
    """Admit the request counted in `counts.requests`, or say how long to wait."""
    if limits.rpm is not None and estimate(counts.prev_requests, counts.requests, elapsed_s) > limits.rpm:
        wait = seconds_until(counts.prev_requests, counts.requests - 1, limits.rpm - 1, elapsed_s)
        return Decision(False, _whole_seconds(wait), f"{limits.rpm} requests per minute")
    if limits.tpm is not None and estimate(counts.prev_tokens, counts.tokens, elapsed_s) >= limits.tpm:
        wait = seconds_until(counts.prev_tokens, counts.tokens, limits.tpm - 1, elapsed_s)
        return Decision(False, _whole_seconds(wait), f"{limits.tpm} tokens per minute")
    return ALLOW


def _whole_seconds(wait: float) -> int:
    return max(1, math.ceil(wait))


def parse_limits(spec: str) -> dict[str, Limits]:
    """`client=RPM/TPM,...` (either side may be empty or `-` for no limit) as a mapping."""
    out: dict[str, Limits] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        client, sep, pair = item.partition("=")
        rpm, slash, tpm = pair.partition("/")
        if not sep or not slash or not client.strip():
            raise ValueError(f"rate limit {item!r}: expected client=RPM/TPM, e.g. team-a=60/100000")
        out[client.strip()] = Limits(_limit(rpm, item), _limit(tpm, item))
    return out


def _limit(raw: str, item: str) -> int | None:
    raw = raw.strip()
    if raw in ("", "-"):
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"rate limit {item!r}: {raw!r} is not a positive whole number")
    return int(raw)
