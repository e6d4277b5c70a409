"""The registry's REST API as the monitor uses it: captured samples in, regression and
augmented datasets out, candidate specs for the paraphrasing model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx

from schemas.candidate import CandidateSpec
from schemas.task import DatasetItem


class RegistryError(RuntimeError):
    pass


class RegistryClient:
    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 15.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            resp = await self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise RegistryError(f"registry unreachable at {self._http.base_url}: {exc}") from exc
        if resp.status_code >= 400:
            raise RegistryError(f"{method} {path} -> {resp.status_code}: {resp.text[:300]}")
        return resp.json()

    async def samples(self, candidate_id: str | None = None, route: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"candidate_id": candidate_id, "route": route}.items() if v}
        body = await self._call("GET", "/api/v1/samples", params=params)
        rows = body.get("items", []) if isinstance(body, dict) else body
        if not isinstance(rows, list):
            raise RegistryError(f"GET /api/v1/samples returned {type(rows).__name__}, not a list")
        return rows

    async def add_dataset(self, *, task: str, name: str, kind: str, items: Sequence[DatasetItem]) -> dict[str, Any]:
        """Upload JSONL items as a dataset of `task` (multipart: the registry stores the blob)."""
        content = "".join(json.dumps(i.model_dump(mode="json")) + "\n" for i in items).encode()
        files = {"file": (f"{name}.jsonl", content, "application/x-ndjson")}
        data = {"task": task, "name": name, "kind": kind}
        return dict(await self._call("POST", "/api/v1/datasets", data=data, files=files))

    async def label_queue(self, task: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit} | ({"task": task} if task else {})
        return list(await self._call("GET", "/api/v1/labelling/queue", params=params))

    async def label(self, sample_id: int, expected: Any = None, skip: bool = False) -> dict[str, Any]:
        body = {"skip": True} if skip else {"expected": expected}
        return dict(await self._call("POST", f"/api/v1/labelling/samples/{sample_id}", json=body))

    async def candidate_spec(self, candidate_id: str) -> CandidateSpec:
        body = await self._call("GET", f"/api/v1/candidates/{candidate_id}")
        return CandidateSpec.model_validate(body.get("spec", body) if isinstance(body, dict) else body)
