"""The optimizer's consumer as bootstrap wires it (the file inbox keyed by run id, the run
queues), with a scripted run: a run is done once; a repeated request, whatever its event id, is
answered with the stored outcome, or, while the run is under way, by the run when it ends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from schemas import EventData, new_event
from schemas.events.prompts import PromptOptimizationFailed, PromptOptimizationRequested
from services.prompt_optimizer import bootstrap as wiring
from services.prompt_optimizer.bootstrap import PromptOptimizerAdapters, PromptOptimizerService
from services.prompt_optimizer.handlers import Deps
from shared.bus.consumer import EventConsumer
from shared.kit.service import _consumer
from shared.settings import Settings
from tests.unit.kit.test_replies import FakeBus
from tests.unit.prompt_optimizer.test_result_event import request


class Run:
    """A scripted run that ends when `release` is set."""

    def __init__(self) -> None:
        self.runs = 0
        self.release = asyncio.Event()

    async def __call__(self, req: PromptOptimizationRequested, _: Deps) -> EventData:
        self.runs += 1
        await self.release.wait()
        return PromptOptimizationFailed(run_id=req.run_id, candidate_id=req.candidate_id, reason="scripted")


def wired(home: Path, run: Run,
          monkeypatch: pytest.MonkeyPatch) -> tuple[PromptOptimizerService, EventConsumer, FakeBus]:
    bus = FakeBus()
    monkeypatch.setattr(wiring, "new_bus", lambda *_a, **_k: bus)
    svc = wiring.bootstrap(Settings(home=home), PromptOptimizerAdapters(optimize=run))  # type: ignore[arg-type]
    [table] = svc.consumes()
    return svc, _consumer(svc, table), bus


async def settled(svc: PromptOptimizerService) -> None:
    while svc.prompts._tasks:  # noqa: SLF001 - the test waits for the queue's own tasks
        await asyncio.sleep(0.01)


async def test_a_run_is_done_once_and_a_repeated_request_gets_its_outcome(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    run = Run()
    svc, consumer, bus = wired(tmp_path, run, monkeypatch)
    first, repeat = new_event(request(), source="t"), new_event(request(), source="t")
    assert await consumer._handle(first) is None  # noqa: SLF001
    assert await consumer._handle(repeat) is None  # noqa: SLF001 - under way: the run answers when it ends
    assert bus.sent == [] and consumer.deduplicated == 1
    run.release.set()
    await settled(svc)
    assert await consumer._handle(new_event(request(), source="t")) is None  # noqa: SLF001 - done: the stored outcome
    assert run.runs == 1 and consumer.deduplicated == 2
    assert [e.data.reason for e in bus.sent] == ["scripted"] * 2
    assert [e.causationid for e in bus.sent][0] == first.id


async def test_an_accepted_run_resumes_when_the_service_starts_again(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    run = Run()
    svc, consumer, _ = wired(tmp_path, run, monkeypatch)
    assert await consumer._handle(new_event(request(), source="t")) is None  # noqa: SLF001
    while not run.runs:
        await asyncio.sleep(0.01)
    await svc.close()  # the service stops with the run under way

    run.release.set()
    again, _, bus = wired(tmp_path, run, monkeypatch)
    await again.start()
    await settled(again)
    assert run.runs == 2 and [e.type for e in bus.sent] == [PromptOptimizationFailed.event_type]
