"""The one retry policy: which failures go again, and how long it waits."""

import pytest

from shared.engines.retry import NO_RETRY, RetryPolicy
from shared.engines.types import EngineError


def http(status: int) -> EngineError:
    return EngineError("http", f"{status} from /v1/chat/completions", status)


@pytest.mark.parametrize("error", [http(429), http(500), http(502), http(503), http(504),
                                   EngineError("connect", "refused"), EngineError("timeout", "slow")])
def test_rate_limits_server_errors_and_transport_failures_are_retried(error):
    assert RetryPolicy(retries=2).should_retry(error, 0)


@pytest.mark.parametrize("error", [http(400), http(401), http(404), http(422), http(501),
                                   EngineError("protocol", "non-JSON")])
def test_the_requests_own_faults_and_protocol_errors_are_not(error):
    assert not RetryPolicy(retries=2).should_retry(error, 0)


def test_retries_stop_after_the_policys_count():
    policy = RetryPolicy(retries=2)
    assert [policy.should_retry(http(503), a) for a in range(4)] == [True, True, False, False]
    assert not NO_RETRY.should_retry(http(503), 0)


def test_backoff_doubles_and_is_bounded():
    policy = RetryPolicy(retries=10, base_delay_s=0.25, max_delay_s=2.0)
    assert [policy.delay(a) for a in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert RetryPolicy().delay(50) == RetryPolicy().max_delay_s
