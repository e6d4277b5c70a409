"""A few real requests against the SmolLM2 llama.cpp server."""

import asyncio

import pytest

from services.loadtester.adapters.generator import LevelPlan, run_level
from services.loadtester.domain.metrics import Slo, summarize
from services.loadtester.domain.profiles import LengthProfile

pytestmark = [pytest.mark.models, pytest.mark.timeout(180)]


def test_streaming_figures_from_the_real_model(smollm2_url: str):
    plan = LevelPlan(url=smollm2_url, model="smollm2", protocol="openai-chat", level=1, requests=3,
                     lengths=LengthProfile("fixed", 16, 12), timeout_s=120)
    records, client = asyncio.run(run_level(plan))
    s = summarize(1, records, Slo(), None, client)
    assert s.errors == 0, s.errors_by_type
    assert s.ttft_ms["p50"] > 0 and s.itl_ms["p50"] > 0
    assert s.e2e_ms["p50"] >= s.ttft_ms["p50"]
    assert 1 <= s.mean_output_tokens <= 12
    assert all(r.input_tokens > 0 for r in records)
