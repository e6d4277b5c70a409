"""A level spread over two client processes keeps one absolute schedule."""

import asyncio

import pytest

from services.loadtester.adapters.generator import LevelPlan
from services.loadtester.adapters.sweep import SweepPlan, run_spread, run_sweep
from services.loadtester.domain.metrics import Slo, summarize
from services.loadtester.domain.profiles import LengthProfile
from tests.support.scripted_llm import start_scripted_llm

pytestmark = pytest.mark.timeout(120)


def test_two_processes_share_the_schedule():
    with start_scripted_llm(ttft_ms=5, itl_ms=1) as server:
        plan = LevelPlan(url=server.url, model="m", mode="constant", level=40, requests=80,
                         lengths=LengthProfile("fixed", 4, 4))
        records, client = asyncio.run(run_spread(plan, workers=2))
    s = summarize(40, records, Slo(), 40, client)
    assert s.requests == 80 and s.errors == 0
    assert client["workers"] == 2
    assert s.achieved_rate == pytest.approx(40, rel=0.05)
    assert len({round(r.scheduled, 6) for r in records}) == 80  # no arrival sent twice


def test_sweep_runs_levels_in_order_and_reports_each():
    with start_scripted_llm(ttft_ms=5, itl_ms=1) as server:
        plan = SweepPlan(LevelPlan(url=server.url, model="m", requests=8, lengths=LengthProfile("fixed", 4, 4)),
                         levels=[1, 4], workers=1)
        result = asyncio.run(run_sweep(plan))
    assert [s.level for s in result.levels] == [1, 4]
    assert all(s.requests == 8 and s.errors == 0 for s in result.levels)
