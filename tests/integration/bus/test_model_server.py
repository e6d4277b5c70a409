"""One chat completion from the real SmolLM2 llama.cpp server through shared.engines."""

from __future__ import annotations

import pytest

from shared.engines import GenerationRequest, client_for

pytestmark = pytest.mark.models


async def test_smollm2_answers_a_chat_prompt(smollm2_url: str) -> None:
    client = client_for("llamacpp", f"{smollm2_url}/v1", "smollm2", timeout_s=60)
    try:
        answer = await client.generate(GenerationRequest(
            messages=[{"role": "user", "content": "What is the capital of France? Answer in one word."}],
            max_tokens=16, seed=1))
    finally:
        await client.aclose()

    assert answer.text.strip()
    assert answer.output_tokens > 0 and answer.input_tokens > 0
    assert answer.finish_reason in {"stop", "length"}
