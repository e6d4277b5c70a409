"""Model calls the monitor makes outside judging: paraphrases of captured prompts, and the
fallback model's (preferred) answer for DPO pairs. Through shared.engines."""

from __future__ import annotations

import logging

from services.monitor.domain.augment import PARAPHRASE_PROMPT
from shared.engines import EngineClient, EngineError, GenerationRequest, client_for

log = logging.getLogger(__name__)


def client_from_ref(ref: str, engine: str = "openai", timeout_s: float = 60.0) -> EngineClient:
    """`http://host:port/MODEL` -> a client for MODEL at http://host:port."""
    url, _, model = ref.rstrip("/").rpartition("/")
    if not url.startswith(("http://", "https://")) or not model:
        raise ValueError(f"expected URL/MODEL such as http://127.0.0.1:8301/smollm2, got {ref!r}")
    return client_for(engine, url, model, timeout_s=timeout_s)


async def answer(client: EngineClient, prompt: str, max_tokens: int = 256) -> str | None:
    try:
        gen = await client.generate(GenerationRequest(messages=[{"role": "user", "content": prompt}],
                                                      max_tokens=max_tokens))
    except EngineError as exc:
        log.warning("model call failed: %s", exc)
        return None
    return gen.text.strip() or None


async def paraphrases(client: EngineClient, text: str, n: int = 2) -> list[str]:
    out: list[str] = []
    for seed in range(n):
        req = GenerationRequest(messages=[{"role": "user", "content": PARAPHRASE_PROMPT.format(text=text)}],
                                temperature=0.8, seed=seed, max_tokens=min(4 * len(text.split()) + 32, 256))
        try:
            out.append((await client.generate(req)).text.strip())
        except EngineError as exc:
            log.warning("paraphrase failed: %s", exc)
    return [t for t in out if t]
