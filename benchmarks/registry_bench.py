"""The registry half of `make bench-backbone`: candidate submissions per second through the
real API (auth, CandidateSpec validation, task/template checks, candidate + stage-history +
outbox rows in one transaction), in process via TestClient, on SQLite and on PostgreSQL.

The reference beside it is the bare shape of the same write: a FastAPI route that validates
the same CandidateSpec body and inserts one JSON row on the same database (the
full-stack-fastapi-template `create_item`). The ratio is the price of being a system of
record (history, outbox, checks).

Run: python -m benchmarks.registry_bench [--n 300] [--pg postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, insert
from sqlmodel import Session

from schemas.candidate import CandidateSpec
from services.registry.bootstrap import bootstrap
from services.registry.domain.roles import Role
from services.registry.entrypoints.http import create_api
from services.registry.handlers.tokens import create_token
from shared.db import make_engine
from shared.settings import Settings

warnings.filterwarnings("ignore")

BODY = {"name": "bench", "model": "smollm2", "task": "capitals", "engine": "llamacpp",
        "endpoint": "http://127.0.0.1:8301/v1", "decoding": {"temperature": 0.2, "max_tokens": 64},
        "tags": {"bench": "yes"}}


def _rate(app: FastAPI, path: str, n: int, headers: dict[str, str] | None = None) -> float:
    with TestClient(app) as client:  # one event-loop portal for the whole run, as a server would have
        for _ in range(5):  # warm-up: connections, caches
            assert client.post(path, json=BODY, headers=headers).status_code == 201
        start = time.perf_counter()
        for _ in range(n):
            response = client.post(path, json=BODY, headers=headers)
            assert response.status_code == 201, response.text
        return n / (time.perf_counter() - start)


def submissions_per_second(db_url: str, n: int = 300) -> float:
    """Submissions/s through POST /api/v1/candidates on `db_url` (migrated and seeded first)."""
    with tempfile.TemporaryDirectory() as home:
        registry = bootstrap(Settings(home=Path(home), DATABASE_URL=db_url))
        with Session(registry.engine) as session:
            _row, token = create_token(session=session, name="bench", role=Role.submitter, created_by="bench")
            session.commit()
        try:
            return _rate(create_api(registry), "/api/v1/candidates", n,
                         {"Authorization": f"Bearer {token}"})
        finally:
            registry.engine.dispose()


def bare_inserts_per_second(db_url: str, n: int = 300) -> float:
    """The reference: validate the same body, insert one row, commit."""
    engine = make_engine(db_url)
    table = Table(f"bench_{uuid.uuid4().hex[:8]}", MetaData(), Column("id", Integer, primary_key=True),
                  Column("name", String(120)), Column("spec", JSON))
    table.create(engine)
    app = FastAPI()

    @app.post("/items", status_code=201)
    def create_item(spec: CandidateSpec) -> dict[str, str]:
        with engine.begin() as conn:
            conn.execute(insert(table).values(name=spec.name, spec=spec.model_dump(mode="json")))
        return {"name": spec.name}

    try:
        return _rate(app, "/items", n)
    finally:
        table.drop(engine)
        engine.dispose()


@contextmanager
def fresh_postgres(admin_url: str) -> Iterator[str]:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{tmp}/registry.db"


def compare(name: str, database: Callable[[], contextmanager], n: int) -> tuple[str, float, float]:  # type: ignore[type-arg]
    with database() as url:
        ours = submissions_per_second(url, n)
    with database() as url:
        bare = bare_inserts_per_second(url, n)
    return name, ours, bare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="submissions per database")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test", help="PostgreSQL admin URL")
    args = parser.parse_args()
    rows = [compare("SQLite", fresh_sqlite, args.n), compare("PostgreSQL", lambda: fresh_postgres(args.pg), args.n)]
    print(f"registry submissions, n={args.n} each, in-process TestClient, one client")
    print(f"{'database':<12} {'registry/s':>11} {'bare insert/s':>14} {'ratio':>7}")
    for name, ours, bare in rows:
        print(f"{name:<12} {ours:>11.1f} {bare:>14.1f} {ours / bare:>7.2f}")


if __name__ == "__main__":
    main()
