"""A registry on a real database (both SQLite and PostgreSQL through `db_url`), served in-process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.registry.app import Registry, bootstrap, create_api
from shared.settings import Settings

Auth = dict[str, str]


@pytest.fixture
def registry(db_url: str, tmp_path: Path) -> Iterator[Registry]:
    reg = bootstrap(Settings(home=tmp_path, DATABASE_URL=db_url))
    yield reg
    reg.engine.dispose()


@pytest.fixture
def client(registry: Registry) -> TestClient:
    return TestClient(create_api(registry))


@pytest.fixture
def admin(registry: Registry) -> Auth:
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
