"""The registry's CLI commands against a real HTTP server (uvicorn) on SQLite."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import yaml
from typer.testing import CliRunner

from schemas import new_event
from schemas.events.degradations import CapturedSample as SampleIn
from schemas.events.degradations import DegradationDetected
from services.cli.main import app as cli
from services.registry.handlers.projections import handle_event
from shared.db import make_engine
from tests.integration.registry.conftest import candidate_body


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


def test_task_create_update_show_answer_like_the_api(served: str) -> None:
    runner = CliRunner()
    created = runner.invoke(cli, ["task", "create", "faq", "--metric", "contains", "--prompt-template",
                                  "Q: {input}\nA:", "--json"])
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["metric"] == "contains" and created.stderr == ""
    updated = runner.invoke(cli, ["task", "update", "faq", "--system-prompt", "Be brief.",
                                  "--metric-args", '{"ignore_case": true}', "--teacher-id", "cand-teacher"])
    assert updated.exit_code == 0 and "updated task faq" in updated.stdout
    shown = json.loads(runner.invoke(cli, ["task", "show", "faq", "-o", "json"]).stdout)
    assert (shown["system_prompt"], shown["metric_args"], shown["prompt_template"], shown["teacher_id"]) == (
        "Be brief.", {"ignore_case": True}, "Q: {input}\nA:", "cand-teacher")

    api = httpx.Client(base_url=f"{os.environ['CHALLENGER_REGISTRY_URL']}/api/v1",
                       headers={"Authorization": f"Bearer {served}"})
    invalid = runner.invoke(cli, ["task", "create", "bad", "--metric", "bleu", "--json"])
    words = api.post("/tasks", json={"name": "bad", "metric": "bleu"}).json()["detail"][0]
    assert invalid.exit_code == 1 and invalid.stdout == ""
    assert f"{words['field']}: {words['reason']}" in invalid.stderr
    duplicate = runner.invoke(cli, ["task", "create", "faq"])
    assert duplicate.exit_code == 1 and "HTTP 409: task 'faq' already exists; PATCH it instead" in duplicate.stderr
    missing = runner.invoke(cli, ["task", "update", "nope", "--description", "x"])
    assert missing.exit_code == 1 and "HTTP 404: task 'nope' not found" in missing.stderr
    assert runner.invoke(cli, ["task", "update", "faq", "--metric-args", "{oops"]).exit_code == 2


def test_a_tasks_traffic_profile_is_set_and_cleared_from_the_cli(served: str) -> None:
    runner = CliRunner()
    profile = {"requests_per_month": 1000000.0, "input_tokens": 300.0, "output_tokens": 40.0}
    created = runner.invoke(cli, ["task", "create", "support", "--traffic", json.dumps(profile), "--json"])
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["traffic"] == profile
    invalid = runner.invoke(cli, ["task", "update", "support", "--traffic", '{"requests_per_month": 5}'])
    assert invalid.exit_code == 1 and "traffic.input_tokens" in invalid.stderr
    cleared = runner.invoke(cli, ["task", "update", "support", "--traffic", "null", "--json"])
    assert cleared.exit_code == 0 and json.loads(cleared.stdout)["traffic"] is None


def test_tables_keep_ids_and_reasons_whole(served: str, tmp_path: Path) -> None:
    runner = CliRunner()
    ids = []
    for n in range(2):
        spec = tmp_path / f"c{n}.yaml"
        spec.write_text(yaml.safe_dump(candidate_body(name=f"a-rather-long-candidate-name-{n}")))
        ids.append(json.loads(runner.invoke(cli, ["submit", str(spec), "--json"]).stdout)["id"])
    narrow = runner.invoke(cli, ["candidates"], env={"COLUMNS": "80"})
    assert narrow.exit_code == 0, narrow.output
    assert all(i in narrow.stdout for i in ids) and "a-rather-long-candidate-name-1" in narrow.stdout
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80 and "…" not in narrow.stdout

    reason = "accuracy non-inferior: diff -0.012, CI [-1.234, 0.567] [bold]not markup[/bold] " + "x" * 200
    assert runner.invoke(cli, ["transition", ids[0], "evaluating", "--reason", reason]).exit_code == 0
    piped = runner.invoke(cli, ["show", ids[0]], env={"COLUMNS": None})  # a pipe or CI log: nothing cut
    assert reason in piped.stdout and ids[0] in piped.stdout
    assert json.loads(runner.invoke(cli, ["show", ids[0], "--json"]).stdout)["stage_history"][-1]["reason"] == reason


def test_samples_label_lists_the_queue_and_labels_one(served: str, sqlite_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    spec = tmp_path / "champion.yaml"
    spec.write_text(yaml.safe_dump(candidate_body(name="cli-champ")))
    submitted = runner.invoke(cli, ["submit", str(spec)])
    cid = submitted.output.split(" as ")[1].split()[0]
    sample = SampleIn(request_id="r1", prompt="Capital of Peru?", response="", reason="error")
    found = DegradationDetected(degradation_id="deg-cli", candidate_id=cid, route="capitals", rules=["error_rate"],
                                samples=[sample])
    engine = make_engine(sqlite_url)
    handle_event(engine, new_event(found, source="test"), tmp_path)
    engine.dispose()

    queue = runner.invoke(cli, ["samples", "label", "--task", "capitals", "--json"])
    [row] = json.loads(queue.stdout)
    labelled = runner.invoke(cli, ["samples", "label", str(row["id"]), "Lima", "--json"])
    again = runner.invoke(cli, ["samples", "label", str(row["id"]), "--skip"])

    assert row["prompt"] == "Capital of Peru?" and row["job_id"] == "deg-cli"
    assert labelled.exit_code == 0, labelled.output
    assert json.loads(labelled.stdout)["expected"] == "Lima" and json.loads(labelled.stdout)["labelled_by"] == "admin"
    assert again.exit_code == 1 and "already labelled by admin" in " ".join(again.output.split())
    assert json.loads(runner.invoke(cli, ["samples", "label", "--json"]).stdout) == []


def test_approve_outside_awaiting_approval_says_the_stage(served: str, tmp_path: Path) -> None:
    runner = CliRunner()
    spec = tmp_path / "candidate.yaml"
    spec.write_text(yaml.safe_dump(candidate_body(name="early")))
    cid = runner.invoke(cli, ["submit", str(spec)]).output.split(" as ")[1].split()[0]
    token = runner.invoke(cli, ["token", "create", "--role", "approver", "--name", "bob"],
                          env={"COLUMNS": "200"}).output
    bob = next(word for word in token.split() if word.startswith("chl_"))
    refused = runner.invoke(cli, ["approve", cid], env={"CHALLENGER_TOKEN": bob, "COLUMNS": "200"})
    assert refused.exit_code == 1
    assert f"HTTP 409: {cid} is in stage submitted" in refused.stderr.replace("\n", " ")
