"""A registry on a real database (both SQLite and PostgreSQL through `db_url`), served in-process."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from schemas import Envelope
from services.registry.bootstrap import GROUP, RegistryService, bootstrap
from services.registry.entrypoints.http import create_api
from shared.process import free_port, port_open
from shared.settings import Settings

Auth = dict[str, str]


@pytest.fixture
def registry(db_url: str, tmp_path: Path) -> Iterator[RegistryService]:
    reg = bootstrap(Settings(home=tmp_path, DATABASE_URL=db_url))
    yield reg
    reg.engine.dispose()


def deliver(registry: RegistryService, envelope: Envelope[Any]) -> bool:
    """`envelope` as the registry's consumer takes it (EventConsumer, without a broker): through
    the inbox under the subscription's dedup key, then to its handler. False: a repeat, skipped."""
    [consumes] = [c for c in registry.consumes() if c.group == GROUP]
    assert registry.inbox is not None and consumes.dedup_key is not None
    with registry.inbox.once(GROUP, consumes.dedup_key(envelope), envelope.type) as fresh:
        if fresh:
            asyncio.run(consumes.dispatch(envelope))
    return fresh


@pytest.fixture
def client(registry: RegistryService) -> TestClient:
    return TestClient(create_api(registry))


@pytest.fixture
def admin(registry: RegistryService) -> Auth:
    assert registry.admin_token is not None
    return {"Authorization": f"Bearer {registry.admin_token}"}


@pytest.fixture
def token_for(client: TestClient, admin: Auth) -> Callable[[str, str], Auth]:
    def make(name: str, role: str) -> Auth:
        response = client.post("/api/v1/tokens", json={"name": name, "role": role}, headers=admin)
        assert response.status_code == 201, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}

    return make


def candidate_body(**changes: object) -> dict[str, object]:
    return {"name": "smol", "model": "smollm2", "task": "capitals", "engine": "llamacpp",
            "endpoint": "http://127.0.0.1:8301/v1", "tags": {"team": "search"}} | changes


@pytest.fixture
def served(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A registry over real HTTP (uvicorn); CHALLENGER_REGISTRY_URL and CHALLENGER_HOME point the CLI
    and `challenger.client` at it (the admin token is read from HOME). Yields the admin token."""
    registry = bootstrap(Settings(home=tmp_path, DATABASE_URL=sqlite_url))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_api(registry), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not port_open("127.0.0.1", port):
        time.sleep(0.05)
    monkeypatch.setenv("CHALLENGER_REGISTRY_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("CHALLENGER_HOME", str(tmp_path))
    monkeypatch.delenv("CHALLENGER_TOKEN", raising=False)
    yield str(registry.admin_token)
    server.should_exit = True
    thread.join(10)
    registry.engine.dispose()
