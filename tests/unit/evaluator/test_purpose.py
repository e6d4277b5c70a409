"""Each evaluator call tells the gateway what it is for (x-challenger-purpose), so the
monitor can keep the red-team attacks out of its reference."""

from typing import get_args

from aiohttp import web

from schemas.events.inference import PURPOSE_HEADER, Purpose
from schemas.task import DatasetItem
from services.evaluator.adapters.engine_http import PooledEngine
from services.evaluator.adapters.runner import generate_for
from services.evaluator.domain.plan import PURPOSES, Call
from services.evaluator.domain.results import Kind
from shared.engines import client_for
from shared.engines.types import GenerationRequest


def test_every_kind_has_an_allowed_purpose_and_attacks_are_redteam():
    assert set(PURPOSES) == set(get_args(Kind)) and set(PURPOSES.values()) <= set(get_args(Purpose))
    assert PURPOSES["security"] == "redteam"


async def test_the_purpose_goes_out_as_a_header():
    seen: list[str | None] = []

    async def chat(request: web.Request) -> web.Response:
        seen.append(request.headers.get(PURPOSE_HEADER))
        return web.json_response({"choices": [{"message": {"role": "assistant", "content": "ok"}}],
                                  "usage": {"prompt_tokens": 1, "completion_tokens": 1}})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    engine = PooledEngine(client_for("openai", f"http://127.0.0.1:{port}", "m"), timeout_s=5, retries=0)
    request = GenerationRequest(messages=[{"role": "user", "content": "hi"}])
    try:
        attack = Call("security", "candidate", "redteam", DatasetItem(id="a1", input="hi"), 0, request)
        assert (await generate_for(engine, attack)).text == "ok"
        await engine.generate(request)
    finally:
        await engine.aclose()
        await runner.cleanup()
    assert seen == ["redteam", None]
