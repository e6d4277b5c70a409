"""Closing the loop with a real model: the fallback model answers captured prompts (DPO
`chosen`) and paraphrases them (augmentation), through shared.engines and llama.cpp."""

from __future__ import annotations

import pytest

from services.monitor.adapters.judge import Judge
from services.monitor.adapters.models import client_from_ref
from services.monitor.config import JudgeConfig
from services.monitor.domain.augment import Sample
from services.monitor.domain.exports import export_rows
from services.monitor.domain.features import Record
from services.monitor.handlers.samples import augment_samples, fill_chosen

pytestmark = pytest.mark.models

CAPTURED = [Sample(id="s1", prompt="What is the capital of France?", response="I'm sorry, I can't help with that.",
                   reason="refusal", route="qa", candidate_id="c1")]


async def test_dpo_chosen_from_the_fallback_model(smollm2_url: str) -> None:
    async with client_from_ref(f"{smollm2_url}/smollm2") as client:
        samples = await fill_chosen(CAPTURED, client)
    rows, skipped = export_rows(samples, "dpo")
    assert skipped == 0 and rows[0]["chosen"] and rows[0]["chosen"] != rows[0]["rejected"]
    assert rows[0]["metadata"]["reason"] == "refusal"


async def test_paraphrases_by_a_model_keep_provenance(smollm2_url: str) -> None:
    async with client_from_ref(f"{smollm2_url}/smollm2") as client:
        kept, _ = await augment_samples(CAPTURED, ["paraphrase"], client)
    assert kept and all(v.origin_id == "s1" and v.method.startswith("paraphrase") for v in kept)
    assert all(v.prompt.strip() != CAPTURED[0].prompt for v in kept)


async def test_judge_scores_at_most_its_budget(smollm2_url: str) -> None:
    records = [Record(f"r{i}", "qa", "c1", None, float(i), "What is 2 + 2?", "4", "ok", {}) for i in range(6)]
    judge = Judge(JudgeConfig(url=smollm2_url, model="smollm2", budget_per_window=2))
    try:
        judged = await judge.judge_window(records)
    finally:
        await judge.aclose()
    scores = [r.features["judge"] for r in judged if "judge" in r.features]
    assert len(scores) <= 2 and all(0.0 <= s <= 1.0 for s in scores)
    assert [r.request_id for r in judged] == [r.request_id for r in records]
