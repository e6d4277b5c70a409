"""The registry as the prompt optimizer uses it, through `challenger.client`: the optimizer model
when a request names a registered candidate by id, and `challenger search --candidate`, which
starts a configuration search there and waits for its result."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from challenger.client import AsyncClient, RegistryError
from schemas.candidate import CandidateSpec

__all__ = ["RegistryError", "candidate_spec", "start_and_wait"]


async def candidate_spec(registry_url: str, candidate_id: str, token: str | None) -> CandidateSpec:
    async with AsyncClient(registry_url, token=token or "", timeout=10.0) as registry:
        return CandidateSpec.model_validate((await registry.candidate(candidate_id)).spec)


async def start_and_wait(registry_url: str, candidate_id: str, body: dict[str, Any], token: str | None, *,
                         timeout: float, poll: float = 2.0,
                         on_start: Callable[[dict[str, Any]], None] = lambda _r: None) -> dict[str, Any]:
    """POST /candidates/{id}/config-search, then GET /config-searches/{run} until it is done."""
    async with AsyncClient(registry_url, token=token or "") as registry:
        run = await registry.start_config_search(candidate_id, body.get("space", {}), budget=body.get("budget"),
                                                 submit_recommended=body.get("submit_recommended", False),
                                                 run_id=body.get("run_id"))
        on_start(run)
        deadline = time.monotonic() + timeout
        while run["status"] == "requested":
            if time.monotonic() > deadline:
                raise RegistryError(f"no result for {run['run_id']} within {timeout:g} s")
            await asyncio.sleep(poll)
            run = await registry.config_search(run["run_id"])
        return run
