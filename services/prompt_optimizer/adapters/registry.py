"""The registry over HTTP: the optimizer model when a request names a registered candidate by id,
and `challenger search --candidate`, which starts a configuration search there and waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from schemas.candidate import CandidateSpec


async def candidate_spec(registry_url: str, candidate_id: str, token: str | None) -> CandidateSpec:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=registry_url, headers=headers, timeout=10.0) as http:
        resp = await http.get(f"/api/v1/candidates/{candidate_id}")
    if resp.status_code != 200:
        raise LookupError(f"optimizer candidate {candidate_id}: registry answered {resp.status_code}")
    return CandidateSpec.model_validate(resp.json()["spec"])


class RegistryError(RuntimeError):
    pass


def _client(registry_url: str, token: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=f"{registry_url.rstrip('/')}/api/v1", headers=headers, timeout=30.0)


def _detail(resp: httpx.Response) -> str:
    try:
        detail = resp.json().get("detail")
    except ValueError:
        return resp.text
    if isinstance(detail, list):
        return "; ".join(f"{e.get('field')}: {e.get('reason')}" for e in detail)
    return str(detail)


async def start_and_wait(registry_url: str, candidate_id: str, body: dict[str, Any], token: str | None, *,
                         timeout: float, poll: float = 2.0,
                         on_start: Callable[[dict[str, Any]], None] = lambda _r: None) -> dict[str, Any]:
    """POST /candidates/{id}/config-search, then GET /config-searches/{run} until it is done."""
    try:
        async with _client(registry_url, token) as http:
            resp = await http.post(f"/candidates/{candidate_id}/config-search", json=body)
            if resp.status_code != 202:
                raise RegistryError(f"registry answered {resp.status_code}: {_detail(resp)}")
            run = resp.json()
            on_start(run)
            deadline = time.monotonic() + timeout
            while run["status"] == "requested":
                if time.monotonic() > deadline:
                    raise RegistryError(f"no result for {run['run_id']} within {timeout:g} s")
                await asyncio.sleep(poll)
                resp = await http.get(f"/config-searches/{run['run_id']}")
                if resp.status_code != 200:
                    raise RegistryError(f"registry answered {resp.status_code}: {_detail(resp)}")
                run = resp.json()
            return run
    except httpx.HTTPError as exc:
        raise RegistryError(f"cannot reach the registry at {registry_url}: {exc}") from exc
