"""API keys: digests only, every key compared in constant time, and a gateway that refuses
to start without keys unless authentication is switched off explicitly."""

import hashlib
import hmac

import pytest

from services.gateway.domain import auth
from services.gateway.domain.auth import ApiKeys, AuthConfigError, check_auth_config


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def test_plain_and_hashed_keys_name_their_clients():
    keys = ApiKeys.from_config("team-a:sk-a,sk-bare", f"team-c:{digest('sk-c')},{digest('sk-d').upper()}")
    assert keys.client("Bearer sk-a") == "team-a"
    assert keys.client("bearer sk-bare") == "client1"
    assert keys.client("Bearer sk-c") == "team-c"
    assert keys.client("Bearer sk-d") == "hashed1"
    assert keys.client("Bearer sk-wrong") is None
    assert keys.client("sk-a") is None and keys.client(None) is None


def test_keys_are_held_only_as_digests():
    keys = ApiKeys.from_config("team-a:sk-secret-value", "")
    assert b"sk-secret-value" not in repr(keys).encode()


def test_every_key_is_compared_even_after_a_match(monkeypatch):
    """No early exit: the time taken does not tell which key matched (the old code returned
    at the first match)."""
    compared: list[bytes] = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append(a)
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    keys = ApiKeys.from_config("a:sk-1,b:sk-2,c:sk-3", "")
    assert keys.client("Bearer sk-1") == "a"
    assert len(compared) == 3


def test_a_gateway_without_keys_refuses_to_start():
    with pytest.raises(AuthConfigError, match="CHALLENGER_GATEWAY_AUTH=off"):
        check_auth_config("on", ApiKeys.from_config("", ""))


def test_auth_off_is_explicit_and_ignores_keys(caplog):
    keys = check_auth_config("off", ApiKeys.from_config("a:sk-1", ""))
    assert not keys.enabled
    assert "authentication is OFF" in caplog.text


def test_a_malformed_digest_is_refused_at_start():
    with pytest.raises(AuthConfigError, match="not a sha256 digest"):
        ApiKeys.from_config("", "team:abc123")
