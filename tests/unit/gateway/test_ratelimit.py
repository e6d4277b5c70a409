"""Per-key rate limits: the sliding-window arithmetic (pure) and the limiter over
in-process counters with a clock the test moves."""

import asyncio

import pytest

from services.gateway.adapters.ratelimit import RateLimiter, build_limiter
from services.gateway.domain.ratelimit import (
    WINDOW_S,
    Counts,
    Limits,
    decide,
    estimate,
    parse_limits,
    seconds_until,
    window_of,
)


def test_window_of_splits_time_into_minutes():
    assert window_of(125.5) == (2, pytest.approx(5.5))


def test_estimate_weights_the_previous_window_by_its_overlap():
    assert estimate(60, 10, 0) == 70
    assert estimate(60, 10, 30) == pytest.approx(40)
    assert estimate(60, 10, 60) == pytest.approx(10)


def test_requests_up_to_the_limit_pass_and_the_next_one_is_refused():
    limits = Limits(rpm=3)
    assert all(decide(limits, Counts(0, n, 0, 0), 10).allowed for n in (1, 2, 3))
    refused = decide(limits, Counts(0, 4, 0, 0), 10)
    assert not refused.allowed and refused.reason == "3 requests per minute"
    assert refused.retry_after_s >= 1


@pytest.mark.parametrize(("prev", "current", "elapsed"),
                         [(0, 3, 10), (3, 0, 10), (5, 2, 40), (10, 10, 59.5), (2, 1, 0)])
def test_retry_after_is_the_first_moment_the_request_fits(prev, current, elapsed):
    """After `seconds_until` the same request is admitted; a moment earlier it is not."""
    rpm = 3
    counts = Counts(prev, current + 1, 0, 0)  # the current window's count includes the request
    assert not decide(Limits(rpm=rpm), counts, elapsed).allowed
    wait = seconds_until(prev, current, rpm - 1, elapsed)

    def fits_after(t: float) -> bool:
        at = elapsed + t
        if at < WINDOW_S:
            return estimate(prev, current + 1, at) <= rpm
        return estimate(current, 1, at - WINDOW_S) <= rpm  # the next window: ours becomes the previous

    assert fits_after(wait + 1e-6)
    assert not fits_after(max(0.0, wait - 0.5))


def test_tokens_spent_refuse_the_next_request_until_they_age_out():
    limits = Limits(tpm=1000)
    assert decide(limits, Counts(0, 1, 0, 999), 5).allowed
    refused = decide(limits, Counts(0, 1, 0, 1000), 5)
    assert not refused.allowed and refused.reason == "1000 tokens per minute"
    assert refused.retry_after_s == pytest.approx(WINDOW_S - 5 + WINDOW_S * (1 - 999 / 1000), abs=1)


def test_parse_limits_reads_client_requests_and_tokens():
    assert parse_limits("team-a=60/100000, batch=-/2000000,b=5/") == {
        "team-a": Limits(60, 100_000), "batch": Limits(None, 2_000_000), "b": Limits(5, None)}
    assert parse_limits("") == {}


@pytest.mark.parametrize("spec", ["team-a=60", "=1/2", "team-a=x/1", "team-a=0/5", "team-a"])
def test_parse_limits_refuses_malformed_specs_with_the_item(spec):
    with pytest.raises(ValueError, match="rate limit"):
        parse_limits(spec)


def test_no_limits_configured_means_no_limiter():
    assert build_limiter(Limits(), {}, "redis://127.0.0.1:1/0", "p:") is None
    assert build_limiter(Limits(), {"a": Limits(rpm=1)}, "", "p:") is not None


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_limiter_refuses_over_the_limit_and_does_not_count_refusals():
    clock = Clock(600.0)  # the start of a window
    limiter = RateLimiter(Limits(rpm=2), {"vip": Limits()}, None, clock=clock)
    assert [(await limiter.admit("a")).allowed for _ in range(3)] == [True, True, False]
    await asyncio.sleep(0)  # the refusal's undo runs in the background
    assert (await limiter.admit("vip")).allowed and (await limiter.admit("b")).allowed  # per key
    clock.now += WINDOW_S  # the next window: 2 previous requests weigh 2, so still full ...
    assert not (await limiter.admit("a")).allowed
    clock.now += WINDOW_S / 2 + 1  # ... until half of them have aged out
    await asyncio.sleep(0)
    assert (await limiter.admit("a")).allowed
    await limiter.close()


async def test_limiter_counts_spent_tokens():
    clock = Clock(1200.0)
    limiter = RateLimiter(Limits(tpm=100), {}, None, clock=clock)
    assert (await limiter.admit("a")).allowed
    limiter.spend("a", 100)
    await asyncio.sleep(0)
    decision = await limiter.admit("a")
    assert not decision.allowed and decision.retry_after_s > 0
    await limiter.close()
