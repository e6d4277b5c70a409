import math

import pytest

from services.loadtester.domain import cost

TP = cost.Throughput(goodput_rps=10.0, goodput_tokens_per_s=1000.0, mean_input_tokens=60, mean_output_tokens=40)


def test_gpu_cost_from_goodput():
    c = cost.gpu_cost(3.6, TP)
    # 1000 tok/s = 3.6M tokens/h at $3.6/h -> $1 per 1M tokens; 36k requests/h -> $0.0001/request
    assert c.usd_per_1m_tokens == pytest.approx(1.0)
    assert c.usd_per_request == pytest.approx(0.0001)
    assert c.monthly_usd is None


def test_gpu_monthly_provisions_whole_replicas_for_the_peak():
    traffic = cost.Traffic(requests_per_month=10.0 * 3600 * 730 * 1.5, peak_to_mean=1.0)  # 15 req/s
    assert cost.gpu_cost(2.0, TP, traffic).monthly_usd == pytest.approx(2 * 2.0 * 730)
    peaky = cost.Traffic(requests_per_month=5.0 * 3600 * 730, peak_to_mean=3.0)  # 15 req/s at peak
    assert cost.gpu_cost(2.0, TP, peaky).monthly_usd == pytest.approx(2 * 2.0 * 730)


def test_gpu_without_goodput_costs_infinity():
    c = cost.gpu_cost(2.0, cost.Throughput(0, 0, 10, 10))
    assert math.isinf(c.usd_per_1m_tokens)


def test_api_cost_from_price_table():
    c = cost.api_cost(input_per_1m=1.0, output_per_1m=4.0, tp=TP, traffic=cost.Traffic(1_000_000))
    per_request = (60 * 1.0 + 40 * 4.0) / 1e6
    assert c.usd_per_request == pytest.approx(per_request)
    assert c.usd_per_1m_tokens == pytest.approx(per_request / 100 * 1e6)
    assert c.monthly_usd == pytest.approx(per_request * 1_000_000)


def test_delta_against_champion_is_negative_when_switching_saves():
    traffic = cost.Traffic(1_000_000)
    mine = cost.gpu_cost(3.6, TP, traffic)
    champ = cost.api_cost(5.0, 15.0, TP, traffic)
    d_tokens, d_month = cost.delta(mine, champ)
    assert d_tokens == pytest.approx(1.0 - champ.usd_per_1m_tokens)
    assert d_month == pytest.approx(3.6 * 730 - champ.monthly_usd)
    assert d_tokens < 0
