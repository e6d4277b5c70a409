"""Measures how many prompt tokens the server counts for a shaped synthetic input: two
one-token, non-streamed requests with different filler lengths, read back from `usage`
(SGLang: `meta_info`). The fit (`domain.prompts.fit`) sizes every later request; a server
that reports no counts gets the tokenizer-free estimate instead."""

from __future__ import annotations

import json

import aiohttp

from services.loadtester.adapters.protocols import Protocol
from services.loadtester.domain.profiles import prompt_of
from services.loadtester.domain.prompts import CALIBRATION_WORDS, PromptShape, Sizing, estimate, fit


async def _prompt_tokens(session: aiohttp.ClientSession, url: str, proto: Protocol, body: dict[str, object],
                         headers: dict[str, str]) -> int | None:
    try:
        async with session.post(url + proto.path, data=json.dumps(body).encode(), headers=headers) as resp:
            if resp.status != 200:
                return None
            obj = json.loads(await resp.read())
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
        return None
    count = proto.prompt_tokens(obj) if isinstance(obj, dict) else None
    return count if isinstance(count, int) and count > 0 else None


async def calibrate(session: aiohttp.ClientSession, url: str, proto: Protocol, model: str, shape: PromptShape,
                    headers: dict[str, str]) -> Sizing:
    points = []
    for words in CALIBRATION_WORDS:
        body = proto.body(model, shape.render(prompt_of(words)), 1, stream=False)
        count = await _prompt_tokens(session, url, proto, body, headers)
        if count is None:
            return estimate(shape)
        points.append((words, count))
    return fit(points) or estimate(shape)
