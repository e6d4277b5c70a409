"""What every schemathesis fuzz test checks, and how hard it fuzzes: no input may cause a
5xx, and every 4xx says why, either FastAPI's way (`{"detail": ...}`) or OpenAI's
(`{"error": {"message": ...}}`, the gateway's proxied endpoints)."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error


def explanation(body: Any) -> str | None:
    """The reason a 4xx body gives, if it gives one."""
    if not isinstance(body, dict):
        return None
    if body.get("detail"):
        return str(body["detail"])
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str) and error["message"]:
        return error["message"]
    return None


@schemathesis.check
def four_xx_explains_itself(ctx, response, case) -> None:  # type: ignore[no-untyped-def]
    if 400 <= response.status_code < 500:
        body = response.json()
        assert explanation(body), f"{response.status_code} without an explanation: {body}"


CHECKS = [not_a_server_error, four_xx_explains_itself]


def fuzz_settings(max_examples: int = 15):  # type: ignore[no-untyped-def]
    """Hypothesis settings for an API fuzz test: reproducible, no deadline (real I/O)."""
    return settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck),
                    derandomize=True)
