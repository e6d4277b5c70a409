"""A configuration search through the stack, on the real SmolLM2: `challenger search --candidate`'s
client asks the registry over HTTP, the registry's outbox publishes `config_search.requested`,
the prompt optimizer service runs the search against the llama.cpp server, and the registry
consumes `config_search.completed` and registers the variants as derived candidates."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from services.prompt_optimizer.adapters.registry import start_and_wait
from services.registry.bootstrap import bootstrap
from services.registry.entrypoints.http import create_app
from shared.process import free_port, port_open
from shared.settings import Settings
from tests.conftest import own_broker
from tests.integration.prompt_optimizer.helpers import running_service


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker of its own: the optimizer reads `challenger.prompts` from the beginning."""
    yield from own_broker(tmp_path_factory.mktemp("cs-broker"))


def serve(app: object, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not port_open("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.1)
    return server, thread


async def test_search_through_the_registry_on_smollm2(broker: str, smollm2_url: str, tmp_path: Path,
                                                      uid: str) -> None:
    settings = Settings(home=tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'registry.db'}", kafka_bootstrap=broker)
    registry = bootstrap(settings)
    port = free_port()
    server, thread = serve(create_app(registry), port)
    url, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {registry.admin_token}"}
    try:
        async with httpx.AsyncClient(base_url=f"{url}/api/v1", headers=auth) as http:
            base = await http.post("/candidates", json={
                "name": f"smollm2-{uid}", "model": "smollm2", "task": "sentiment", "engine": "llamacpp",
                "endpoint": f"{smollm2_url}/v1", "decoding": {"temperature": 0.0, "max_tokens": 8, "seed": 7},
                "cost": {"kind": "gpu", "gpu_hourly_usd": 0.35}})
            assert base.status_code == 201, base.text
            cid = base.json()["id"]
        async with running_service(broker, tmp_path, uid):
            done = await start_and_wait(url, cid, {"space": {"max_tokens": [2, 16]},
                                                   "budget": {"max_eval_calls": 60}},
                                        registry.admin_token, timeout=600, poll=1.0)
        assert done["status"] == "completed", done["reason"]
        assert done["cost_unit"] == "$/1M tokens" and done["spent"]["eval_calls"] <= 60
        by_variant = {v["variant"]: v for v in done["variants"]}
        assert set(by_variant) == {"default", "c1", "c2"} and by_variant["default"]["candidate_id"] == cid
        assert sum(v["recommended"] for v in done["variants"]) == 1
        async with httpx.AsyncClient(base_url=f"{url}/api/v1") as http:
            for vid in ("c1", "c2"):
                child = (await http.get(f"/candidates/{by_variant[vid]['candidate_id']}")).json()
                assert child["parent_id"] == cid and child["spec"]["tags"]["variant"] == vid
                assert child["spec"]["decoding"]["max_tokens"] == {"c1": 2, "c2": 16}[vid]
            svg = await http.get(f"/config-searches/{done['run_id']}/frontier.svg")
            assert svg.text.count("data-variant=") == 3
        assert await asyncio.to_thread(Path(done["report_path"]).is_file)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
