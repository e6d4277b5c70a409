"""The registry's CLI commands against a real HTTP server (uvicorn) on SQLite."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
import yaml
from typer.testing import CliRunner

from services.cli.main import app as cli
from services.registry.app import bootstrap, create_api
from shared.settings import Settings
from shared.stack.process import free_port, port_open
from tests.integration.registry.conftest import candidate_body


@pytest.fixture
def served(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    registry = bootstrap(Settings(home=tmp_path, DATABASE_URL=sqlite_url))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_api(registry), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not port_open("127.0.0.1", port):
        time.sleep(0.05)
    monkeypatch.setenv("CHALLENGER_REGISTRY_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("CHALLENGER_HOME", str(tmp_path))  # the admin token file is read from here
    monkeypatch.delenv("CHALLENGER_TOKEN", raising=False)
    yield str(registry.admin_token)
    server.should_exit = True
    thread.join(10)


def test_submit_list_show_transition(served: str, tmp_path: Path) -> None:
    runner = CliRunner()
    spec = tmp_path / "candidate.yaml"
    spec.write_text(yaml.safe_dump(candidate_body(name="cli-cand")))
    submitted = runner.invoke(cli, ["submit", str(spec)])
    assert submitted.exit_code == 0, submitted.output
    cid = submitted.output.split(" as ")[1].split()[0]

    listed = runner.invoke(cli, ["candidates", "--task", "capitals"], env={"COLUMNS": "200"})
    assert cid in listed.output
    refused = runner.invoke(cli, ["transition", cid, "production"])
    assert refused.exit_code == 1 and "cannot move from submitted to production" in refused.output.replace("\n", " ")
    moved = runner.invoke(cli, ["transition", cid, "evaluating", "--reason", "go"])
    assert moved.exit_code == 0, moved.output
    shown = runner.invoke(cli, ["show", cid], env={"COLUMNS": "200"})
    assert "evaluating" in shown.output and "go" in shown.output

    spec.write_text(yaml.safe_dump(candidate_body(decoding={"temperature": 7})))
    invalid = runner.invoke(cli, ["submit", str(spec)])
    assert invalid.exit_code == 1 and "decoding.temperature" in invalid.output


def test_token_and_dataset_commands(served: str, tmp_path: Path) -> None:
    runner = CliRunner()
    token = runner.invoke(cli, ["token", "create", "--role", "approver", "--name", "bob"])
    assert token.exit_code == 0 and "chl_" in token.output
    data = tmp_path / "d.jsonl"
    data.write_text('{"id": "a", "input": "Chile?", "expected": "Santiago"}\n')
    uploaded = runner.invoke(cli, ["dataset", "upload", str(data), "--task", "capitals", "--name", "extra"])
    assert uploaded.exit_code == 0 and "1 items" in uploaded.output
