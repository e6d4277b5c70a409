"""When a failed model call is tried again, and how long to wait first: the one retry policy of
every engine call (the load tester's timed requests excepted: a retry would hide what users
see, so they are never retried).

Pure: the client asks `should_retry` and `delay`; it does the sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.engines.types import EngineError

# Rate limiting and the server-side failures a later attempt can outlive. Other 4xx are the
# request's own fault (a bad body, an unknown model) and fail the same way every time.
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """`retries` attempts after the first; exponential backoff from `base_delay_s`, never
    longer than `max_delay_s`. Timeouts and failed connections are retried, as are the
    retryable statuses; an answer that is not the protocol's (`protocol`) is not."""

    retries: int = 2
    base_delay_s: float = 0.25
    max_delay_s: float = 4.0
    retryable_status: frozenset[int] = RETRYABLE_STATUS

    def should_retry(self, error: EngineError, attempt: int) -> bool:
        """Whether the call that failed with `error` on `attempt` (0 = the first) goes again."""
        if attempt >= self.retries:
            return False
        if error.kind == "http":
            return error.status in self.retryable_status
        return error.kind in ("timeout", "connect")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the failed `attempt` before the next one."""
        return min(self.max_delay_s, self.base_delay_s * 2**attempt)


NO_RETRY = RetryPolicy(retries=0)
