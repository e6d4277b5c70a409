import pytest

from schemas.candidate import ApiCost, CandidateSpec, GpuCost
from schemas.events.loadtests import LoadtestRequested, Slo
from services.loadtester.domain.metrics import Slo as MetricSlo
from services.loadtester.domain.metrics import summarize
from services.loadtester.domain.outcome import best_throughput, cost_of, level_result
from services.loadtester.domain.profiles import dataset_profile
from services.loadtester.domain.records import RequestRecord
from services.loadtester.handlers import base_url, sweep_plan
from tests.support.scripted_llm import ScriptConfig, schedule_offsets


def spec(**kw) -> CandidateSpec:
    return CandidateSpec(name="c", model="m", task="t", engine=kw.pop("engine", "openai"),
                         endpoint=kw.pop("endpoint", "http://h:1/v1"), **kw)


def test_base_url_strips_v1_and_prefers_the_target():
    assert base_url(spec(), None) == "http://h:1"
    assert base_url(spec(), "http://other:2/") == "http://other:2"


def test_plan_from_request():
    req = LoadtestRequested(loadtest_id="l", candidate_id="c", candidate=spec(engine="sglang"), mode="gamma",
                            levels=[1, 5], input_tokens=10, input_tokens_max=20, output_tokens=4,
                            slo=Slo(ttft_ms=100), burstiness=0.5, warmup_requests=3, request_timeout_s=30)
    plan = sweep_plan(req, req.candidate)
    assert plan.base.timeout_s == 30
    assert plan.base.protocol == "sglang"
    assert plan.base.lengths.kind == "uniform" and plan.base.lengths.input_max == 20
    assert (plan.base.mode, plan.base.burstiness, plan.base.warmup) == ("gamma", 0.5, 3)
    assert plan.slo.ttft_ms == 100 and plan.levels == [1, 5]


def _summary(level: float, n: int):
    recs = []
    for i in range(n):
        r = RequestRecord(i * 0.1, i * 0.1, chunk_times=[i * 0.1 + 0.05, i * 0.1 + 0.06], chunk_tokens=[1, 1],
                          input_tokens=8, output_tokens=2)
        r.end = i * 0.1 + 0.06
        recs.append(r)
    return summarize(level, recs, MetricSlo())


def test_cost_uses_the_best_goodput_level_and_the_cost_model():
    levels = [_summary(1, 10), _summary(2, 2)]  # 100 tokens in 0.96 s; 20 tokens in 0.16 s
    tp = best_throughput(levels)
    assert tp.goodput_tokens_per_s == pytest.approx(20 / 0.16)
    gpu = cost_of(spec(cost=GpuCost(gpu_hourly_usd=3.6)), tp, None)
    assert gpu.usd_per_1m_tokens == pytest.approx(3.6 / (tp.goodput_tokens_per_s * 3600) * 1e6)
    api = cost_of(spec(cost=ApiCost(input_per_1m_usd=1, output_per_1m_usd=2)), tp, None)
    assert api.usd_per_request == pytest.approx((8 + 4) / 1e6)
    assert cost_of(spec(), tp, None) is None


def test_level_result_carries_percentiles_and_errors():
    res = level_result(_summary(3, 4))
    assert res.level == 3 and res.ttft_ms.p50 == pytest.approx(50.0)
    assert res.errors_by_type == {}


def test_dataset_profile_from_rows():
    p = dataset_profile([{"prompt": "a b c", "completion": "x"}, {"input_tokens": 7, "output_tokens": 9}])
    assert p.sample(3) == [(3, 1), (7, 9), (3, 1)]
    with pytest.raises(ValueError):
        dataset_profile([])


def test_scripted_schedule_multi_token_chunks_keep_per_token_gap():
    cfg = ScriptConfig(ttft_ms=100, itl_ms=10, tokens_per_chunk=3)
    offsets = schedule_offsets(8, cfg)
    assert [k for _, k in offsets] == [3, 3, 2]
    assert [round(t * 1000, 6) for t, _ in offsets] == [100, 130, 150]
