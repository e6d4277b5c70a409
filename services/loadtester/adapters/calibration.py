"""Measures how many prompt tokens the server counts for a shaped synthetic input: two
one-token, non-streamed requests with different filler lengths, read back from `usage`
(SGLang: `meta_info`). The fit (`domain.prompts.fit`) sizes every later request; a server
that reports no counts gets the tokenizer-free estimate instead.

Untimed, so it goes through the one engine client (over the load test's own session, so its
connection is warm for the timed requests) with the load test's body shape (the count must be
that of what the timed requests will send). Not retried: a failing server gets the estimate.
"""

from __future__ import annotations

import aiohttp

from services.loadtester.adapters.protocols import Protocol
from services.loadtester.domain.profiles import prompt_of
from services.loadtester.domain.prompts import CALIBRATION_WORDS, PromptShape, Sizing, estimate, fit
from shared.engines.client import EngineClient
from shared.engines.retry import NO_RETRY
from shared.engines.types import EngineError


async def _prompt_tokens(client: EngineClient, proto: Protocol, body: dict[str, object]) -> int | None:
    try:
        obj = await client.post_json(proto.path, body)
    except EngineError:
        return None
    count = proto.prompt_tokens(obj)
    return count if isinstance(count, int) and count > 0 else None


async def calibrate(session: aiohttp.ClientSession, url: str, proto: Protocol, model: str, shape: PromptShape,
                    headers: dict[str, str]) -> Sizing:
    client = EngineClient(url, model, session=session, headers=headers, retry=NO_RETRY,
                          timeout_s=session.timeout.total or 120.0)
    points = []
    for words in CALIBRATION_WORDS:
        body = proto.body(model, shape.render(prompt_of(words)), 1, stream=False)
        count = await _prompt_tokens(client, proto, body)
        if count is None:
            return estimate(shape)
        points.append((words, count))
    return fit(points) or estimate(shape)
