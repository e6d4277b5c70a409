"""The live route tables of every gateway (`GET /routes`), as the consistency check reads them."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from pydantic import TypeAdapter, ValidationError

from schemas.events.deployments import RouteTable
from services.registry.domain.consistency import GatewayView

TABLES = TypeAdapter(list[RouteTable])


def read_gateways(urls: Sequence[str], api_key: str | None = None, timeout_s: float = 5.0) -> list[GatewayView]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(timeout=timeout_s, headers=headers) as client:
        return [_read(client, url.rstrip("/")) for url in urls]


def _read(client: httpx.Client, url: str) -> GatewayView:
    try:
        response = client.get(f"{url}/routes")
        response.raise_for_status()
        return GatewayView(url, TABLES.validate_python(response.json()))
    except (httpx.HTTPError, ValueError, ValidationError) as exc:
        return GatewayView(url, error=f"GET {url}/routes: {type(exc).__name__}: {exc}")
