"""Closing the loop with a real model: the fallback model answers captured prompts (DPO
`chosen`) and paraphrases them (augmentation), through shared.engines and llama.cpp."""

from __future__ import annotations

import pytest

from services.monitor.adapters.models import client_from_ref
from services.monitor.domain.augment import Sample
from services.monitor.domain.exports import export_rows
from services.monitor.samples import augment_samples, fill_chosen

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
