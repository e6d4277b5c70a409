"""Fixtures that start REAL local parts: the Tansu broker, llama.cpp model servers, and a
fresh PostgreSQL database per test. Every test gets its own topics, groups and DB."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from challenger.stack.broker import broker_proc
from challenger.stack.models import model_proc
from shared.process import Proc, free_port

PG_ADMIN_URL = os.environ.get("CHALLENGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def started(proc: Proc) -> Proc:
    proc.start()
    try:
        proc.wait_healthy()
    except Exception:
        proc.stop()
        raise
    return proc


@pytest.fixture(scope="session")
def stack_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("challenger-home")


def own_broker(home: Path) -> Iterator[str]:
    """Start a real Tansu broker; yield its bootstrap address; stop it."""
    port = free_port()
    proc = started(broker_proc(home, port))
    yield f"127.0.0.1:{port}"
    proc.stop()


class RestartableBroker:
    """A broker of the test's own, on a fixed port, so the test can stop it and start it again
    (empty: the embedded broker keeps nothing across a restart)."""

    def __init__(self, home: Path) -> None:
        self.home, self.port = home, free_port()
        self.proc: Proc | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = started(broker_proc(self.home, self.port))

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def restartable_broker(tmp_path: Path) -> Iterator[RestartableBroker]:
    own = RestartableBroker(tmp_path)
    own.start()
    yield own
    own.stop()


@pytest.fixture(scope="session")
def broker(stack_home: Path) -> Iterator[str]:
    """Bootstrap address of a real Tansu broker for this test session. A module whose service
    reads a catalogue topic from the beginning can override it with `own_broker`, so the
    requests other tests left on that topic do not queue ahead of its own."""
    yield from own_broker(stack_home)


@pytest.fixture
def uid() -> str:
    """A unique suffix for this test's topics and consumer groups."""
    return uuid.uuid4().hex[:10]


def _model_url(alias: str, home: Path) -> Iterator[str]:
    port = free_port()
    proc = started(model_proc(alias, home, port, threads=1))
    yield f"http://127.0.0.1:{port}"
    proc.stop()


@pytest.fixture(scope="session")
def smollm2_url(stack_home: Path) -> Iterator[str]:
    yield from _model_url("smollm2", stack_home)


@pytest.fixture(scope="session")
def gemma3_url(stack_home: Path) -> Iterator[str]:
    yield from _model_url("gemma3", stack_home)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Runs the test on both databases."""
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))
