"""`challenger policy show`: the policy the running deployer judges with, each value with the
section it came from; the policy file when no deployer answers. `--json` prints only JSON."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

from services.cli.main import app as cli
from services.deployer.entrypoints.http import read_routes
from shared.process import free_port, port_open
from tests.integration.deployer.local import LocalDeployer

POLICY = "defaults:\n  accuracy: {min_items: 30}\ntasks:\n  sentiment:\n    accuracy: {non_inferiority_margin: 0.2}\n"


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


@pytest.fixture
def deployer_url(sqlite_url: str, tmp_path: Path, policy_file: Path) -> Iterator[str]:
    deployer = LocalDeployer(sqlite_url, tmp_path, policy_file).deployer
    app = FastAPI()
    app.include_router(read_routes(deployer, policy_file))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not port_open("127.0.0.1", port):
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_the_running_deployers_policy_with_each_values_source(deployer_url: str, policy_file: Path) -> None:
    shown = CliRunner().invoke(cli, ["policy", "show", "--task", "sentiment", "--json", "--url", deployer_url])
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)
    assert doc["section"] == "tasks.sentiment" and doc["file"] == str(policy_file)
    assert doc["from"] == f"the running deployer at {deployer_url}"
    accuracy = doc["values"]["accuracy"]
    assert accuracy["non_inferiority_margin"] == {"value": 0.2, "source": "tasks.sentiment"}
    assert accuracy["min_items"] == {"value": 30, "source": "defaults"}
    assert accuracy["underpowered"] == {"value": "fail", "source": "built-in"}
    mine = json.loads(CliRunner().invoke(cli, ["policy", "show", "--task", "mine", "--json", "--url",
                                               deployer_url]).stdout)
    assert mine["section"] == "defaults" and mine["values"]["accuracy"]["non_inferiority_margin"]["value"] == 0.05


def test_the_table_names_every_setting_and_its_source(deployer_url: str) -> None:
    shown = CliRunner().invoke(cli, ["policy", "show", "--task", "sentiment", "--url", deployer_url],
                               env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    line = next(x for x in shown.stdout.splitlines() if "accuracy.non_inferiority_margin" in x)
    assert "0.2" in line and "tasks.sentiment" in line
    assert "section tasks.sentiment" in shown.stdout


def test_without_a_deployer_the_policy_file_and_a_note_on_stderr(policy_file: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    shown = CliRunner().invoke(cli, ["policy", "show", "--json", "--url", nobody],
                               env={"CHALLENGER_DEPLOYER_POLICY": str(policy_file)})
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)  # only JSON on stdout
    assert doc["file"] == str(policy_file) and doc["section"] == "defaults" and doc["task_sections"] == ["sentiment"]
    assert "no deployer answered" in shown.stderr
