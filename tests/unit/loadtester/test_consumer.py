"""The load tester's consumer as bootstrap wires it (the file inbox keyed by loadtest id, the
stored reply), with a scripted sweep: a load test runs once; a repeated request, whatever its
event id, is answered again with the same reply and no second sweep; a failure is a reply too."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from schemas import Envelope, new_event
from schemas.candidate import CandidateSpec
from schemas.events.loadtests import LoadtestCompleted, LoadtestFailed, LoadtestRequested
from services.loadtester.adapters.sweep import SweepPlan, SweepResult
from services.loadtester.bootstrap import LoadtesterAdapters, LoadtesterService, bootstrap
from services.loadtester.domain.metrics import Slo, summarize
from services.loadtester.domain.records import RequestRecord
from services.loadtester.handlers import Unreachable
from shared.bus.consumer import EventConsumer
from shared.kit.service import _consumer
from shared.settings import Settings
from tests.unit.kit.test_replies import FakeBus


class Sweep:
    """A measured sweep without an endpoint: four answers a level, in about 60 ms; or no answer at all."""

    def __init__(self, reachable: bool = True) -> None:
        self.reachable, self.runs = reachable, 0

    async def __call__(self, plan: SweepPlan, *_: object) -> SweepResult:
        self.runs += 1
        if not self.reachable:
            raise Unreachable(f"endpoint {plan.base.url} unreachable: connection refused")
        records = []
        for i in range(4):
            first, last = i * 0.1 + 0.05 + i * 0.001, i * 0.1 + 0.06 + i * 0.002
            r = RequestRecord(i * 0.1, i * 0.1, chunk_times=[first, last], chunk_tokens=[1, 1], input_tokens=8,
                              output_tokens=2)
            r.end = last
            records.append(r)
        return SweepResult([summarize(level, records, Slo()) for level in plan.levels], records, None)


def request() -> Envelope[LoadtestRequested]:
    spec = CandidateSpec(name="c", model="m", task="t", engine="openai", endpoint="http://model:1/v1")
    return new_event(LoadtestRequested(loadtest_id="lt-1", candidate_id="c-1", candidate=spec, levels=[1, 2]),
                     source="t")


def wired(home: Path, sweep: Sweep) -> tuple[LoadtesterService, EventConsumer, FakeBus]:
    svc = bootstrap(Settings(home=home), LoadtesterAdapters(measure=sweep))
    bus = FakeBus()
    svc.deps = replace(svc.deps, bus=bus)  # type: ignore[arg-type]
    [table] = svc.consumes()
    return svc, _consumer(svc, table), bus


async def test_a_load_test_runs_once_and_a_repeated_request_gets_the_same_reply(tmp_path: Path) -> None:
    sweep = Sweep()
    _, consumer, bus = wired(tmp_path, sweep)
    first, repeat = request(), request()
    for event in (first, repeat):
        assert await consumer._handle(event) is None  # noqa: SLF001
    assert sweep.runs == 1 and consumer.deduplicated == 1
    assert [e.type for e in bus.sent] == [LoadtestCompleted.event_type] * 2
    assert bus.sent[1].data == bus.sent[0].data and bus.sent[1].causationid == repeat.id
    assert [lv.level for lv in bus.sent[0].data.levels] == [1, 2]


async def test_a_failure_is_the_reply_a_repeat_gets(tmp_path: Path) -> None:
    sweep = Sweep(reachable=False)
    _, consumer, bus = wired(tmp_path, sweep)
    for _ in range(2):
        assert await consumer._handle(request()) is None  # noqa: SLF001
    assert sweep.runs == 1
    assert [e.type for e in bus.sent] == [LoadtestFailed.event_type] * 2
    assert "unreachable" in bus.sent[0].data.reason and bus.sent[1].data == bus.sent[0].data
