"""The whole embedded stack through the real CLI: `challenger up` on free ports in a temp
CHALLENGER_HOME, a candidate submitted over HTTP, `model.submitted` seen through
`challenger watch`, `challenger down` leaving no process behind."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from challenger.stack.parts import DEFAULT_PORTS, port_env
from schemas import DLQ_TOPIC, TOPICS, new_event
from schemas.events.deployments import RouteTable, RouteTarget, RouteUpdated
from shared.bus.producer import EventProducer
from shared.process import free_port, pid_alive, port_open
from tests.integration.bus.helpers import first_event, raw_records

CLI = [sys.executable, "-m", "services.cli.main"]
# A provider key that every service can read: it may be USED (sent to the model endpoint)
# but must never be written to an event, a log, a trace or a database.
PLANTED_ENV, PLANTED_SECRET = "CHALLENGER_E2E_PROVIDER_KEY", f"sk-planted-{uuid.uuid4().hex}"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("CHALLENGER_")}
    env |= {port_env(part): str(free_port()) for part in DEFAULT_PORTS}
    return env | {"CHALLENGER_HOME": str(home), "COLUMNS": "200", PLANTED_ENV: PLANTED_SECRET}


def challenger(env: dict[str, str], *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], dict[str, Any]]]:
    home = tmp_path_factory.mktemp("e2e-home")
    env = _env(home)
    try:
        up = challenger(env, "up", "--no-models")
        assert up.returncode == 0, up.stdout + up.stderr
        yield env, json.loads((home / "stack.json").read_text())
    finally:
        challenger(env, "down")


def test_up_reports_every_part_healthy_and_keeps_the_token_private(stack: tuple[dict[str, str], Any]) -> None:
    env, state = stack
    home = Path(env["CHALLENGER_HOME"])

    status = challenger(env, "status", timeout=60)

    assert status.returncode == 0, status.stdout
    names = [p["name"] for p in state["parts"]]
    assert names[:2] == ["broker", "registry"]
    for part in state["parts"]:
        assert part["port"] == int(env[port_env(part["name"])])
        assert f"{part['name']} " in status.stdout
    assert "not answering" not in status.stdout and "stopped" not in status.stdout
    assert (home / "admin-token").stat().st_mode & 0o777 == 0o600
    assert all((home / "logs" / f"{n}.log").exists() for n in names)


def test_a_submitted_candidate_shows_up_in_watch(stack: tuple[dict[str, str], Any]) -> None:
    env, _state = stack
    token = (Path(env["CHALLENGER_HOME"]) / "admin-token").read_text().strip()
    registry = f"http://127.0.0.1:{env['CHALLENGER_REGISTRY_PORT']}"
    spec = {"name": "e2e-smol", "model": "smollm2", "task": "capitals", "engine": "llamacpp",
            "endpoint": "http://127.0.0.1:9/v1"}

    response = httpx.post(f"{registry}/api/v1/candidates", json=spec, headers={"Authorization": f"Bearer {token}"},
                          timeout=30)
    assert response.status_code == 201, response.text
    candidate = response.json()["id"]
    watch = challenger(env, "watch", "--candidate", candidate, "--topic", "challenger.models", "--from-beginning",
                       "--limit", "1", "--seconds", "60", timeout=90)

    assert watch.returncode == 0, watch.stderr
    [line] = [ln for ln in watch.stdout.splitlines() if candidate in ln]
    assert "model.submitted" in line and "submitted_by=admin" in line and "spec.name=e2e-smol" in line


def test_a_poison_message_is_dead_lettered_by_a_service_and_shown_by_watch(
        stack: tuple[dict[str, str], Any]) -> None:
    env, state = stack
    key = f"poison-{uuid.uuid4().hex[:8]}"
    asyncio.run(_send_raw(state["bootstrap"], "challenger.models", key.encode(), b"{not json",
                          [("ce_type", b"io.challenger.model.submitted")]))

    watch = challenger(env, "watch", "--topic", "challenger.dlq", "--candidate", key, "--from-beginning",
                       "--limit", "1", "--seconds", "60", timeout=90)

    [line] = [ln for ln in watch.stdout.splitlines() if key in ln]
    assert "DEAD LETTER" in line and "from=challenger.models" in line
    assert "reason=not a CloudEvent: missing header ce_id, ce_source, ce_specversion" in line


def test_poison_on_every_topic_is_dead_lettered_and_every_service_stays_up(
        stack: tuple[dict[str, str], Any]) -> None:
    env, state = stack
    key = f"poison-all-{uuid.uuid4().hex[:8]}"
    topics = [t.name for t in TOPICS if t.name != DLQ_TOPIC]
    for topic in topics:
        asyncio.run(_send_raw(state["bootstrap"], topic, key.encode(), b"\x00\xffnot an event",
                              [("ce_type", b"io.challenger.nothing.happened")]))

    # several services consume some topics, so a topic's poison may be dead-lettered more than once
    dead = asyncio.run(raw_records(state["bootstrap"], DLQ_TOPIC, lambda r: r.key == key.encode(),
                                   want=10_000, timeout=30))

    from_topics = {dict(r.headers)["dlq_topic"].decode() for r in dead}
    assert set(topics) - {"challenger.alerts"} <= from_topics  # alerts has no consumer among the services
    assert all(dict(r.headers)["dlq_reason"] == b"unknown event type 'io.challenger.nothing.happened'"
               for r in dead)
    for part in state["parts"]:
        if part["name"] != "broker":
            assert httpx.get(f"http://127.0.0.1:{part['port']}/health", timeout=10).status_code == 200, part["name"]


async def _send_raw(bootstrap: str, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


def test_a_taken_port_is_named_and_nothing_is_left_running(tmp_path: Path) -> None:
    env = _env(tmp_path)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", int(env["CHALLENGER_BROKER_PORT"])))
        blocker.listen()

        result = challenger(env, "up", "--no-models", timeout=60)

    assert result.returncode == 1
    assert f"broker: port {env['CHALLENGER_BROKER_PORT']} is already taken" in " ".join(result.stderr.split())
    assert not (tmp_path / "stack.json").exists()


def test_a_provider_key_never_reaches_events_logs_traces_or_databases(stack: tuple[dict[str, str], Any]) -> None:
    env, state = stack
    home = Path(env["CHALLENGER_HOME"])
    token = (home / "admin-token").read_text().strip()
    spec = {"name": "e2e-keyed", "model": "gpt-x", "task": "capitals", "engine": "openai",
            "endpoint": "http://127.0.0.1:9/v1", "api_key_env": PLANTED_ENV}
    response = httpx.post(f"http://127.0.0.1:{env['CHALLENGER_REGISTRY_PORT']}/api/v1/candidates", json=spec,
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 201, response.text
    cid = response.json()["id"]
    # the evaluator builds a client with the key and calls the (closed) endpoint: the run fails
    failed, _ = asyncio.run(first_event(state["bootstrap"], "challenger.evaluations", f"e2e-{cid}",
                                        lambda e: e.type.endswith("evaluation.failed") and e.subject == cid, 90))
    assert failed.data.candidate_id == cid

    secret = PLANTED_SECRET.encode()
    leaks = [str(p) for p in home.rglob("*") if p.is_file() and secret in p.read_bytes()]
    assert leaks == [], f"the provider key was written to {leaks}"
    records = asyncio.run(raw_records(state["bootstrap"], "challenger.models", lambda r: True, want=10_000,
                                      timeout=5))
    for topic in ("challenger.evaluations", "challenger.deployments", "challenger.dlq"):
        records += asyncio.run(raw_records(state["bootstrap"], topic, lambda r: True, want=10_000, timeout=5))
    assert records and not any(secret in (r.value or b"") + b"".join(v for _k, v in r.headers) for r in records)


def _publish_route(bootstrap: str, route: str, *served: str) -> None:
    targets = [RouteTarget(candidate_id=cid, url="http://127.0.0.1:9/v1", model="smollm2") for cid in served]
    revision = time.time_ns() // 1_000_000  # milliseconds, as the deployer numbers them
    update = RouteUpdated(route=route, table=RouteTable(route=route, targets=targets), revision=revision)
    asyncio.run(_send(bootstrap, new_event(update, source="challenger/e2e", subject=route)))


async def _send(bootstrap: str, envelope: Any) -> None:
    async with EventProducer(bootstrap, client_id="e2e") as producer:
        await producer.publish(envelope)


def _registry_env(env: dict[str, str]) -> dict[str, str]:
    return env | {"CHALLENGER_REGISTRY_URL": f"http://127.0.0.1:{env['CHALLENGER_REGISTRY_PORT']}"}


def _doctor(env: dict[str, str], want_ok: bool, timeout_s: float = 60) -> dict[str, Any]:
    """`challenger doctor --json` until it says `want_ok` (the gateway applies a route a moment later)."""
    deadline = time.monotonic() + timeout_s
    while True:
        done = challenger(_registry_env(env), "doctor", "--json", timeout=60)
        report: dict[str, Any] = json.loads(done.stdout)  # --json: nothing but the report on stdout
        assert done.returncode == (0 if report["ok"] else 1), done.stderr
        if report["ok"] == want_ok or time.monotonic() > deadline:
            return report
        time.sleep(1)


def test_doctor_finds_the_record_true_and_names_a_gateway_serving_another_than_the_champion(
        stack: tuple[dict[str, str], Any]) -> None:
    env, state = stack
    registry = f"http://127.0.0.1:{env['CHALLENGER_REGISTRY_PORT']}"
    auth = {"Authorization": f"Bearer {(Path(env['CHALLENGER_HOME']) / 'admin-token').read_text().strip()}"}
    spec = {"model": "smollm2", "task": "capitals", "engine": "llamacpp", "endpoint": "http://127.0.0.1:9/v1"}
    champion = httpx.post(f"{registry}/api/v1/candidates/import-champion", json=spec | {"name": "e2e-champion"},
                          headers=auth, timeout=30).json()["id"]
    other = httpx.post(f"{registry}/api/v1/candidates", json=spec | {"name": "e2e-other"}, headers=auth,
                       timeout=30).json()["id"]
    _publish_route(state["bootstrap"], "capitals", champion)
    assert _doctor(env, want_ok=True)["gateways"] == [f"http://127.0.0.1:{env['CHALLENGER_GATEWAY_PORT']}"]

    # what main left after a fallback: the gateway serves another candidate than the champion
    _publish_route(state["bootstrap"], "capitals", other)
    wrong = _doctor(env, want_ok=False)
    text = challenger(_registry_env(env), "doctor", timeout=60)

    messages = [p["message"] for p in wrong["problems"]]
    assert any(m.startswith(f"route capitals sends traffic to {other}, which is ") for m in messages), messages
    assert f"task capitals's champion {champion} gets no traffic on route capitals (it sends traffic to {other})" \
        in messages
    assert text.returncode == 1 and "mismatch" in text.stdout
    _publish_route(state["bootstrap"], "capitals", champion)
    assert _doctor(env, want_ok=True)["problems"] == []


def test_down_leaves_no_process_and_frees_every_port(stack: tuple[dict[str, str], Any]) -> None:
    """Runs last in this module: it stops the shared stack."""
    env, state = stack
    home = Path(env["CHALLENGER_HOME"])

    down = challenger(env, "down", timeout=90)

    assert down.returncode == 0
    assert [p["name"] for p in state["parts"] if pid_alive(p["pid"])] == []
    assert [p["name"] for p in state["parts"] if port_open("127.0.0.1", p["port"])] == []
    assert not (home / "stack.json").exists() and list((home / "run").glob("*.pid")) == []
