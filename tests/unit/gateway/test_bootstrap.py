"""The gateway's wiring: settings in the one family under today's env var names, `bootstrap`
with the real adapters or a test's, the route.updated table, and the proxy's front door."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from schemas import new_event
from schemas.events.deployments import RouteTable, RouteTarget, RouteUpdated
from services.gateway.adapters.inference_log import InferenceLog
from services.gateway.adapters.route_store import RouteStore
from services.gateway.bootstrap import GatewayAdapters, GatewayService, bootstrap
from services.gateway.config import GatewaySettings
from services.gateway.domain.auth import AuthConfigError
from services.gateway.entrypoints.asgi import ProxyASGI
from shared.settings import Settings

OPEN = {"gateway_auth": "off", "gateway_redis_url": ""}

# every env var the gateway read before it joined the one settings family, and its field now
ENV_NAMES = {
    "CHALLENGER_GATEWAY_WORKERS": ("gateway_workers", "3", 3),
    "CHALLENGER_GATEWAY_INSTANCE": ("gateway_instance", "gw-a", "gw-a"),
    "CHALLENGER_GATEWAY_ROUTES_FILE": ("gateway_routes_file", "/r.yaml", Path("/r.yaml")),
    "CHALLENGER_GATEWAY_AUTH": ("gateway_auth", "off", "off"),
    "CHALLENGER_GATEWAY_API_KEYS": ("gateway_api_keys", "a:sk-a", "a:sk-a"),
    "CHALLENGER_GATEWAY_API_KEY_HASHES": ("gateway_api_key_hashes", "ab", "ab"),
    "CHALLENGER_GATEWAY_RATE_LIMIT_RPM": ("gateway_rate_limit_rpm", "60", 60),
    "CHALLENGER_GATEWAY_RATE_LIMIT_TPM": ("gateway_rate_limit_tpm", "1000", 1000),
    "CHALLENGER_GATEWAY_RATE_LIMITS": ("gateway_rate_limits", "b=1/2", "b=1/2"),
    "CHALLENGER_GATEWAY_RATE_LIMIT_PREFIX": ("gateway_rate_limit_prefix", "rl:", "rl:"),
    "CHALLENGER_GATEWAY_REDIS_URL": ("gateway_redis_url", "redis://r:1/0", "redis://r:1/0"),
    "CHALLENGER_GATEWAY_CACHE_PREFIX": ("gateway_cache_prefix", "c:", "c:"),
    "CHALLENGER_GATEWAY_LOG_SAMPLE_RATE": ("gateway_log_sample_rate", "0.5", 0.5),
    "CHALLENGER_GATEWAY_LOG_QUEUE_SIZE": ("gateway_log_queue_size", "7", 7),
    "CHALLENGER_GATEWAY_LOG_LINGER_MS": ("gateway_log_linger_ms", "9", 9),
    "CHALLENGER_GATEWAY_TIMEOUT_S": ("gateway_timeout_s", "3.5", 3.5),
    "CHALLENGER_GATEWAY_CONNECT_TIMEOUT_S": ("gateway_connect_timeout_s", "0.5", 0.5),
    "CHALLENGER_GATEWAY_MAX_SHADOW_IN_FLIGHT": ("gateway_max_shadow_in_flight", "0", 0),
    "CHALLENGER_GATEWAY_SUBSCRIBE": ("gateway_subscribe", "false", False),
}


@pytest.mark.parametrize("env", sorted(ENV_NAMES))
def test_every_gateway_setting_keeps_its_env_var(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    field, raw, value = ENV_NAMES[env]
    monkeypatch.delenv("CHALLENGER_REDIS_URL", raising=False)  # it would win over the gateway's own
    monkeypatch.setenv(env, raw)
    assert getattr(GatewaySettings(), field) == value


def test_the_gateway_settings_are_the_shared_family(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHALLENGER_KAFKA_BOOTSTRAP", "broker:1")
    monkeypatch.setenv("CHALLENGER_REDIS_URL", "redis://shared:1/0")
    monkeypatch.setenv("CHALLENGER_GATEWAY_REDIS_URL", "redis://own:1/0")
    settings = GatewaySettings()
    assert isinstance(settings, Settings) and settings.kafka_bootstrap == "broker:1"
    assert settings.gateway_redis_url == "redis://shared:1/0"  # the stack-wide name wins, as before
    assert not any("port" in name for name in GatewaySettings.model_fields if name.startswith("gateway_"))


def fake_adapters() -> GatewayAdapters:
    return GatewayAdapters(store=RouteStore(), upstreams=SimpleNamespace(), cache=None,  # type: ignore[arg-type]
                           log=InferenceLog(10), limiter=None)


def update(route: str, revision: int, candidate: str) -> Any:
    table = RouteTable(route=route, targets=[RouteTarget(candidate_id=candidate, url="http://u", model="m")])
    return new_event(RouteUpdated(route=route, table=table, revision=revision), source="tests")


def test_bootstrap_builds_a_typed_service_over_the_adapters_it_is_given() -> None:
    adapters = fake_adapters()
    service = bootstrap(GatewaySettings(**OPEN, gateway_log_linger_ms=7), adapters)
    assert isinstance(service, GatewayService) and service.name == "gateway"
    assert service.store is adapters.store and service.gateway.store is adapters.store
    assert service.gateway.log is adapters.log and service.limiter is None and not service.keys.enabled
    assert service.bus._config["linger_ms"] == 7  # noqa: SLF001
    assert not service.serving


def test_bootstrap_builds_real_adapters_from_settings_and_loads_the_routes_file(tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(yaml.safe_dump({"routes": {"r": {"targets": [{"candidate_id": "a", "url": "http://a",
                                                                     "model": "m"}]}}}))
    service = bootstrap(GatewaySettings(gateway_auth="off", gateway_routes_file=routes, gateway_rate_limit_rpm=5))
    assert set(service.store.routes) == {"r"} and service.gateway.cache is not None
    assert service.limiter is not None and service.gateway.limiter is service.limiter


def test_bootstrap_refuses_what_must_not_start() -> None:
    with pytest.raises(AuthConfigError):
        bootstrap(GatewaySettings(gateway_auth="on", gateway_api_keys="", gateway_api_key_hashes=""), fake_adapters())
    with pytest.raises(ValueError, match="rate limit"):
        bootstrap(GatewaySettings(**OPEN, gateway_rate_limits="team-a=x/1"))


def test_no_consumer_unless_the_gateway_subscribes() -> None:
    assert bootstrap(GatewaySettings(**OPEN, gateway_subscribe=False), fake_adapters()).consumes() == ()


async def test_each_instance_applies_route_updates_in_its_own_group_without_an_inbox() -> None:
    service = bootstrap(GatewaySettings(**OPEN, gateway_instance="gw-1"), fake_adapters())
    [consumes] = service.consumes()
    assert consumes.group == "gateway-gw-1" and consumes.dedup_key is None and service.inbox is None
    assert consumes.types == {RouteUpdated.event_type}
    await consumes.dispatch(update("r", 2, "new"))
    await consumes.dispatch(update("r", 1, "old"))  # redelivered or late: not newer, ignored
    assert service.store.routes["r"].revision == 2
    assert [t.candidate_id for t in service.store.routes["r"].table.targets] == ["new"]


async def test_the_proxy_paths_reach_fastapi_until_the_service_is_serving() -> None:
    seen: list[str] = []

    async def fastapi(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["path"])

    service = bootstrap(GatewaySettings(**OPEN), fake_adapters())
    scope = {"type": "http", "path": "/v1/chat/completions", "method": "POST", "headers": []}
    await ProxyASGI(fastapi, service)(scope, None, None)
    assert seen == ["/v1/chat/completions"]
