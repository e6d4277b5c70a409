"""Real parts for the gateway tests: fake-upstream processes, an in-process gateway served
by uvicorn on a free port, and readers for the events it publishes."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml
from aiokafka import AIOKafkaConsumer

from schemas import Envelope, new_event
from schemas.events.deployments import RouteTable, RouteTarget, RouteUpdated
from services.gateway.config import GatewaySettings
from services.gateway.entrypoints.http import create_app
from shared.bus.codec import PoisonMessage, decode
from shared.bus.producer import EventProducer
from shared.process import free_port, http_ok

ROOT = Path(__file__).resolve().parents[3]


class Upstream:
    def __init__(self, name: str, *extra: str) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.integration.gateway.fake_upstream",
                                      "--port", str(self.port), "--name", name, *extra], cwd=ROOT)
        deadline = time.monotonic() + 30
        while not http_ok(f"{self.url}/health"):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.kill()
                raise RuntimeError(f"fake upstream {name} did not start")
            time.sleep(0.1)

    def calls(self) -> int:
        return int(httpx.get(f"{self.url}/stats").json()["calls"])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def upstreams() -> Iterator[Callable[..., Upstream]]:
    started: list[Upstream] = []

    def start(name: str, *extra: str) -> Upstream:
        started.append(Upstream(name, *extra))
        return started[-1]

    yield start
    for up in started:
        up.kill()


async def publish_route(broker: str, route: str, targets: list[RouteTarget], revision: int) -> None:
    """A route.updated, as the deployer publishes it."""
    update = RouteUpdated(route=route, table=RouteTable(route=route, targets=targets), revision=revision)
    async with EventProducer(broker) as producer:
        await producer.publish(new_event(update, source="tests/gateway"))


def target(cid: str, url: str, weight: float = 1.0, **extra: Any) -> dict[str, Any]:
    return {"candidate_id": cid, "url": url, "model": f"model-{cid}", "weight": weight, **extra}


@contextlib.asynccontextmanager
async def running_gateway(broker: str, home: Path, routes: dict[str, Any] | None = None,
                          **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway on a free port (its lifespan, consumers and producer included); without
    authentication unless `settings` give it keys."""
    keys = settings.get("gateway_api_keys") or settings.get("gateway_api_key_hashes")
    gs_args: dict[str, Any] = {"gateway_subscribe": False, "gateway_auth": "on" if keys else "off", **settings}
    if routes is not None:
        path = home / f"routes-{free_port()}.yaml"
        path.write_text(yaml.safe_dump({"routes": routes}))
        gs_args["gateway_routes_file"] = path
    app = create_app(GatewaySettings(kafka_bootstrap=broker, home=home, **gs_args))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(60):
        while not server.started:
            await asyncio.sleep(0.05)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


def chat(route: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"model": route, "messages": [{"role": "user", "content": text}], **extra}


def answer(response: httpx.Response) -> str:
    return str(response.json()["choices"][0]["message"]["content"])


async def events(broker: str, topic: str, keep: Callable[[Envelope[Any]], bool], want: int,
                 timeout: float = 30.0) -> list[Envelope[Any]]:
    """The first `want` events on `topic` (read from the start, no group) that `keep` accepts."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    found: list[Envelope[Any]] = []
    try:
        async with asyncio.timeout(timeout):
            while len(found) < want:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for r in records:
                        with contextlib.suppress(PoisonMessage):
                            env = decode(r.key, r.value, r.headers or ())
                            if keep(env):
                                found.append(env)
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return found
