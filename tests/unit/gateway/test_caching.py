import pytest

from schemas.events.deployments import RouteTable, RouteTarget
from services.gateway.domain.caching import bypass_reason, cache_key, is_deterministic

A = RouteTarget(candidate_id="a", url="http://a", model="m", prompt_version="p1")
TABLE = RouteTable(route="r", targets=[A], cache_ttl_s=60)
BODY = {"model": "r", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}


def key(body=BODY, target=A, kind="chat", route="r"):
    return cache_key("pfx:", kind, route, target, body)


@pytest.mark.parametrize(("body", "expected"), [
    ({"temperature": 0}, True),
    ({"temperature": 0.0}, True),
    ({"temperature": 0.7, "seed": 42}, True),
    ({"temperature": 0.7}, False),
    ({}, False),  # OpenAI's default temperature is 1
    ({"temperature": False}, False),
    ({"seed": "42"}, False),
])
def test_only_deterministic_requests_are_cacheable(body, expected):
    assert is_deterministic(body) is expected


def test_bypass_rules():
    assert bypass_reason(TABLE, BODY) is None
    assert "no cache" in bypass_reason(RouteTable(route="r", targets=[A]), BODY)
    assert bypass_reason(TABLE, {**BODY, "stream": True}) == "streaming"
    assert "deterministic" in bypass_reason(TABLE, {**BODY, "temperature": 0.5})
    assert "several choices" in bypass_reason(TABLE, {**BODY, "n": 3})


def test_key_is_stable_and_ignores_neutral_fields():
    assert key() == key(dict(BODY))
    assert key() == key({**BODY, "model": "other-alias", "user": "u1", "stream": False})


def test_key_never_crosses_candidates_prompt_versions_or_params():
    keys = {
        key(),
        key(target=A.model_copy(update={"candidate_id": "b"})),
        key(target=A.model_copy(update={"prompt_version": "p2"})),
        key(target=A.model_copy(update={"model": "m2"})),
        key({**BODY, "max_tokens": 10}),
        key({**BODY, "seed": 1}),
        key({**BODY, "messages": [{"role": "user", "content": "hi!"}]}),
        key(kind="completions"),
        key(route="r2"),
    }
    assert len(keys) == 9


def test_key_is_namespaced_by_prefix_route_and_candidate():
    assert key().startswith("pfx:r:a:")
