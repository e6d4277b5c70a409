"""Bad servers are counted and reported by error type; nothing raises."""

import asyncio

import pytest

from services.loadtester.adapters.generator import LevelPlan, run_level
from services.loadtester.domain.metrics import Slo, summarize
from services.loadtester.domain.profiles import LengthProfile
from shared.process import free_port
from tests.support.scripted_llm import start_scripted_llm


def run(url: str, requests: int = 6, protocol: str = "openai-chat"):
    plan = LevelPlan(url=url, model="m", protocol=protocol, level=2, requests=requests,
                     lengths=LengthProfile("fixed", 4, 6), timeout_s=10)
    records, client = asyncio.run(run_level(plan))
    return summarize(2, records, Slo(), None, client)


def test_unreachable_endpoint_is_counted():
    s = run(f"http://127.0.0.1:{free_port()}")
    assert s.errors_by_type == {"connect": 6}
    assert s.ttft_ms is None


@pytest.mark.parametrize("fault, expected", [
    (dict(streaming=False), "not_streaming"),
    (dict(malformed_rate=1.0), "malformed_sse"),
    (dict(midstream_error_rate=1.0, midstream_mode="abort"), "stream_broken"),
    (dict(midstream_error_rate=1.0, midstream_mode="event"), "stream_error"),
    (dict(error_rate=1.0, error_status=503), "http_503"),
])
def test_faults_are_counted_by_type(fault, expected):
    with start_scripted_llm(ttft_ms=5, itl_ms=1, **fault) as server:
        s = run(server.url)
    assert s.errors_by_type == {expected: 6}


def test_some_errors_leave_the_rest_measured():
    with start_scripted_llm(ttft_ms=5, itl_ms=1, error_rate=0.5, error_status=500, seed=3) as server:
        s = run(server.url, requests=20, protocol="sglang")
    assert 0 < s.errors_by_type["http_500"] < 20
    assert s.ttft_ms is not None
