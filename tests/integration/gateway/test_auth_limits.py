"""Keys on by default and per-key rate limits, on real gateway processes (`python -m
services.gateway`) and the real Redis at CHALLENGER_REDIS_URL (127.0.0.1:6379):

- without keys, and without an explicit CHALLENGER_GATEWAY_AUTH=off, the process refuses to
  start and says why; with AUTH=off it starts and warns;
- two gateway processes share one key's request budget through Redis: the request over the
  limit is a 429 with Retry-After, whichever process gets it;
- the tokens of answers count against a per-client token limit;
- with Redis unreachable the limits still hold, counted in the process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from .conftest import ROOT, Upstream, chat, target
from .processes import gateway_process

pytestmark = pytest.mark.timeout(240)

REDIS_URL = os.environ.get("CHALLENGER_REDIS_URL", "redis://127.0.0.1:6379/0")
KEYS = "team:sk-team,tok:sk-tok"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def upstream() -> Any:
    up = Upstream("limits")
    yield up
    up.kill()


def routes(upstream: Upstream) -> dict[str, Any]:
    return {"bot": {"targets": [target("champ", upstream.url)]}}


def test_a_gateway_without_keys_refuses_to_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHALLENGER_GATEWAY_")}
    env |= {"CHALLENGER_HOME": str(tmp_path), "CHALLENGER_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    done = subprocess.run([sys.executable, "-m", "services.gateway"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "refusing to start" in done.stderr and "CHALLENGER_GATEWAY_AUTH=off" in done.stderr
    assert "CHALLENGER_GATEWAY_API_KEYS" in done.stderr


def test_auth_off_starts_says_so_and_serves_without_a_key(broker: str, tmp_path: Path, upstream: Upstream) -> None:
    with gateway_process(broker, tmp_path, routes(upstream), AUTH="off") as url:
        assert httpx.post(f"{url}/v1/chat/completions", json=chat("bot", "hi"), timeout=30).status_code == 200
    log = next((tmp_path / "logs").glob("gateway*.log")).read_text()
    assert "authentication is OFF" in log


def test_two_gateways_share_a_keys_request_limit_through_redis(broker: str, tmp_path: Path, uid: str,
                                                               upstream: Upstream) -> None:
    prefix = f"test-{uid}:"
    limits = {"API_KEYS": KEYS, "RATE_LIMIT_RPM": "3", "RATE_LIMIT_PREFIX": prefix, "REDIS_URL": REDIS_URL}
    with gateway_process(broker, tmp_path / "a", routes(upstream), **limits) as one, \
            gateway_process(broker, tmp_path / "b", routes(upstream), **limits) as two:
        statuses = [post(url, "sk-team").status_code for url in (one, two, one)]
        refused = post(two, "sk-team")
        other_key = post(two, "sk-tok")
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    error = refused.json()["error"]
    assert error["type"] == "rate_limit_exceeded" and "'team'" in error["message"]
    assert error["retry_after_s"] == int(refused.headers["retry-after"])
    assert other_key.status_code == 200
    counted = redis.Redis.from_url(REDIS_URL)
    windows = [counted.hgetall(k) for k in counted.scan_iter(f"{prefix}{{team}}:*")]
    assert sum(int(w.get(b"r", 0)) for w in windows) == 3  # the refused request is not counted
    assert all(0 < counted.ttl(k) <= 120 for k in counted.scan_iter(f"{prefix}*"))


def test_answers_tokens_count_against_a_clients_token_limit(broker: str, tmp_path: Path, uid: str,
                                                            upstream: Upstream) -> None:
    settings = {"API_KEYS": KEYS, "RATE_LIMITS": "tok=-/8", "RATE_LIMIT_PREFIX": f"test-{uid}:",
                "REDIS_URL": REDIS_URL}
    with gateway_process(broker, tmp_path, routes(upstream), **settings) as url:
        first = post(url, "sk-tok")  # the fake upstream reports 5 prompt tokens and a few more
        assert first.status_code == 200 and sum_tokens(first) >= 8
        refused = wait_for(lambda: post(url, "sk-tok"), lambda r: r.status_code == 429)
        assert "8 tokens per minute" in refused.json()["error"]["message"] and "retry-after" in refused.headers
        assert post(url, "sk-team").status_code == 200  # no limit for this client


def test_limits_hold_in_process_when_redis_is_unreachable(broker: str, tmp_path: Path, upstream: Upstream) -> None:
    settings = {"API_KEYS": KEYS, "RATE_LIMIT_RPM": "2", "REDIS_URL": "redis://127.0.0.1:1/0"}
    with gateway_process(broker, tmp_path, routes(upstream), **settings) as url:
        statuses = [post(url, "sk-team").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert "counting in this process" in next((tmp_path / "logs").glob("gateway*.log")).read_text()


def post(url: str, key: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", json=chat("bot", "say hello"), headers=bearer(key), timeout=30)


def sum_tokens(response: httpx.Response) -> int:
    usage = response.json()["usage"]
    return int(usage["prompt_tokens"]) + int(usage["completion_tokens"])


def wait_for(call: Any, done: Any, timeout: float = 10.0) -> Any:
    """The tokens are added in the background after the answer: the next request may still pass."""
    deadline = time.monotonic() + timeout
    while True:
        result = call()
        if done(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.05)
