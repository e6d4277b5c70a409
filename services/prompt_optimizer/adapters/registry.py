"""Looking up the optimizer model when the request names a registered candidate by id."""

from __future__ import annotations

import httpx

from schemas.candidate import CandidateSpec


async def candidate_spec(registry_url: str, candidate_id: str, token: str | None) -> CandidateSpec:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=registry_url, headers=headers, timeout=10.0) as http:
        resp = await http.get(f"/api/v1/candidates/{candidate_id}")
    if resp.status_code != 200:
        raise LookupError(f"optimizer candidate {candidate_id}: registry answered {resp.status_code}")
    return CandidateSpec.model_validate(resp.json()["spec"])
