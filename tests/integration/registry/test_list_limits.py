"""List endpoints bound their `limit`: the registry fuzz test found that a limit past 2**63
reached the database driver and came back as a 500; now it is a 422 that names the field."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .conftest import Auth


@pytest.mark.parametrize("path", ["/api/v1/samples", "/api/v1/candidates", "/api/v1/datasets/any/items"])
@pytest.mark.parametrize("limit", ["9223372036854775808", "0"])
def test_an_out_of_range_limit_is_a_422_naming_it(client: TestClient, admin: Auth, path: str, limit: str) -> None:
    response = client.get(path, params={"limit": limit}, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["field"] == "query.limit"
