"""The loadtester through the real broker: a small loadtest.requested against the scripted
server becomes a loadtest.completed with figures, cost and a report; an unreachable
target becomes a loadtest.failed with the reason."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas import Envelope, new_event
from schemas.candidate import ApiCost, CandidateSpec, GpuCost
from schemas.events.loadtests import TOPIC, LoadtestCompleted, LoadtestFailed, LoadtestRequested
from services.loadtester.bootstrap import bootstrap
from services.loadtester.entrypoints.http import create_app
from shared.bus.producer import EventProducer
from shared.process import free_port
from shared.settings import Settings
from tests.conftest import own_broker
from tests.integration.bus.helpers import first_event
from tests.support.scripted_llm import start_scripted_llm

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """This module's own broker: the service reads loadtest.requested from the beginning, and
    requests other tests left on the shared broker would queue ahead of these."""
    yield from own_broker(tmp_path_factory.mktemp("loadtester-broker"))


@pytest.fixture
async def service(broker: str, uid: str, tmp_path: Path) -> AsyncIterator[Path]:
    app = create_app(bootstrap(Settings(kafka_bootstrap=broker, home=tmp_path), group=f"loadtester-{uid}"))
    async with app.router.lifespan_context(app):
        yield tmp_path


async def first(broker: str, group: str, match: Callable[[Envelope[Any]], bool], timeout_s: float = 60) -> Envelope:
    return (await first_event(broker, TOPIC, group, match, timeout_s))[0]


def request(uid: str, url: str, name: str) -> LoadtestRequested:
    cand = CandidateSpec(name="cand", model="scripted", task="t", engine="openai", endpoint=url,
                         cost=GpuCost(gpu_hourly_usd=2.0))
    champ = CandidateSpec(name="champ", model="api", task="t", engine="openai", endpoint="http://127.0.0.1:9/v1",
                          cost=ApiCost(input_per_1m_usd=1.0, output_per_1m_usd=3.0))
    return LoadtestRequested(loadtest_id=f"{name}-{uid}", candidate_id=f"cand-{uid}", candidate=cand,
                             champion=champ, mode="concurrency", levels=[1, 2], input_tokens=8, output_tokens=6,
                             requests_per_level=6, monthly_requests=1e6)


async def test_request_becomes_completed_with_cost_and_report(broker: str, uid: str, service: Path):
    with start_scripted_llm(ttft_ms=10, itl_ms=2) as server:
        req = request(uid, server.url + "/v1", "ok")
        async with EventProducer(broker) as producer:
            await producer.publish(new_event(req, source="test", correlation_id=f"corr-{uid}"))
        ev = await first(broker, f"t-{uid}", lambda e: e.type == LoadtestCompleted.event_type
                         and e.data.loadtest_id == req.loadtest_id)
    done: LoadtestCompleted = ev.data
    assert ev.correlationid == f"corr-{uid}"
    assert [lv.level for lv in done.levels] == [1, 2]
    assert all(lv.errors == 0 and lv.requests == 6 for lv in done.levels)
    assert done.levels[0].ttft_ms.p50 >= 10
    assert done.cost is not None and done.cost.usd_per_1m_tokens > 0
    assert done.cost.champion_usd_per_1m_tokens == pytest.approx((8 * 1.0 + 6 * 3.0) / 14)
    assert done.cost.delta_monthly_usd is not None
    report = Path(done.report_path)
    assert report.is_relative_to(service / "reports" / "loadtests")
    assert (report.parent / "latency_throughput.png").stat().st_size > 0
    assert (report.parent / "ttft_itl.png").stat().st_size > 0


async def test_unreachable_target_becomes_failed(broker: str, uid: str, service: Path):
    req = request(uid, f"http://127.0.0.1:{free_port()}", "down")
    async with EventProducer(broker) as producer:
        await producer.publish(new_event(req, source="test"))
    ev = await first(broker, f"f-{uid}", lambda e: e.type == LoadtestFailed.event_type
                     and e.data.loadtest_id == req.loadtest_id)
    assert "unreachable" in ev.data.reason
