"""samples_augmentation.requested -> augmented JSONL + samples.augmented, once per run id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schemas import new_event
from schemas.events.degradations import SamplesAugmentationRequested, SamplesAugmented
from services.monitor.handlers.samples import AugmentationHandler, read_jsonl
from tests.unit.monitor.fakes import Published


class FakeRegistry:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.calls = 0

    async def samples(self, candidate_id: str | None = None, route: str | None = None) -> list[dict[str, Any]]:
        self.calls += 1
        return [r for r in self.rows if r["candidate_id"] == candidate_id]


ROWS = [{"id": "s1", "prompt": "Summarise the meeting notes, then list the action items.", "response": "No.",
         "reason": "refusal", "candidate_id": "c1", "route": "notes"},
        {"id": "s2", "prompt": "Other candidate", "response": "x", "reason": "error", "candidate_id": "c2"}]


async def test_augmentation_request_is_handled_once(tmp_path: Path) -> None:
    published, registry = Published(), FakeRegistry(ROWS)
    handler = AugmentationHandler(registry=registry, home=tmp_path, publish=published)  # type: ignore[arg-type]
    request = new_event(SamplesAugmentationRequested(run_id="run-1", candidate_id="c1"), source="test")
    await handler.handle(request)
    await handler.handle(request)  # redelivered
    [done] = published
    assert isinstance(done.data, SamplesAugmented) and done.causationid == request.id
    rows = read_jsonl(tmp_path / "monitor" / "augmented" / "run-1.jsonl")
    assert done.data.created == len(rows) > 0 and registry.calls == 1
    assert {r["origin_id"] for r in rows} == {"s1"} and all(r["route"] == "notes" for r in rows)
