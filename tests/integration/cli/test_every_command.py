"""Every `challenger` command follows the output rules (services/cli/output.py): a command that
prints a report takes --output table|json and --json, and with --json its stdout is JSON alone
(progress bars, live views and errors go to stderr). The test walks the whole command tree, so a
command added later must either run here or say why it cannot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from challenger.client import Client
from services.cli.main import app
from services.cli.output import Format
from shared.process import free_port
from tests.integration.registry.conftest import candidate_body
from tests.support.scripted_llm import ScriptedServer, start_scripted_llm

# stdout IS the data these print, not a report about it
DATA_OUT = {
    "samples export": "JSONL training rows (or a file)",
    "samples augment": "JSONL variants (or a file)",
    "sglang command": "a shell command line",
    "sglang manifest": "a Kubernetes manifest (YAML)",
}
# what these need is not started here; the rule is still checked on their options
NOT_RUN = {
    "up": "starts the whole stack (tests/e2e/test_stack.py)",
    "demo": "starts the whole stack and runs an iteration",
    "restart": "needs a running stack", "kill": "needs a running stack",
    "watch": "needs a broker", "route set": "publishes on the broker",
    "promote": "asks over the broker", "abort": "asks over the broker", "rollback": "asks over the broker",
    "sglang start": "needs SGLang", "redteam install-garak": "downloads torch and garak (make redteam-garak)",
}


def commands(group: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            yield from commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


ALL = dict(commands(typer.main.get_command(app)))


def test_every_report_command_takes_output_and_json() -> None:
    for name, command in ALL.items():
        if name in DATA_OUT:
            continue
        options = {opt: param for param in command.params for opt in param.opts}
        assert "--json" in options and "--output" in options, f"`challenger {name}` lacks --output/--json"
        assert options["--output"].type_descriptor.annotation is Format, name


@pytest.fixture(scope="module")
def scripted() -> Iterator[ScriptedServer]:
    with start_scripted_llm(model="scripted", ttft_ms=2, itl_ms=1, latency_ms=2, output_tokens=2) as server:
        yield server


def _runs(tmp: Path, url: str) -> dict[str, tuple[list[str], set[int]]]:
    """Each command's arguments and the exit codes it may end with (an error still prints JSON or nothing)."""
    with Client() as registry:
        first, second = (registry.submit(candidate_body(name=f"walk-{n}")).id for n in range(2))
    (tmp / "c.yaml").write_text(yaml.safe_dump(candidate_body(name="walk-file")))
    (tmp / "items.jsonl").write_text("".join(json.dumps({"id": f"i{n}", "input": f"q{n}", "expected": "w"}) + "\n"
                                             for n in range(4)))
    (tmp / "search.yaml").write_text(yaml.safe_dump({
        "task": "sentiment", "limit": 8, "space": {"max_tokens": [1, 2]}, "budget": {"max_eval_calls": 40},
        "candidate": {"name": "s", "model": "scripted", "engine": "openai", "endpoint": url}}))
    closed = f"http://127.0.0.1:{free_port()}"
    return {
        "tasks": ([], {0}), "candidates": ([], {0}), "submit": ([str(tmp / "c.yaml")], {0}), "show": ([first], {0}),
        "transition": ([first, "evaluating", "--reason", "walk"], {0}),
        "approve": ([first], {1}),  # four-eyes: the admin submitted it
        "retire": ([second], {0}), "token create": (["--role", "approver"], {0}),
        "dataset upload": ([str(tmp / "items.jsonl"), "--task", "capitals"], {0}), "dataset list": ([], {0}),
        "task create": (["walk-task"], {0}), "task update": (["walk-task", "--description", "d"], {0}),
        "task show": (["walk-task"], {0}), "doctor": ([], {0, 1}),
        "samples label": ([], {0}), "samples add-to-regression": (["--task", "capitals"], {1}),  # none captured
        "topics": ([], {0}), "status": ([], {1}), "down": ([], {0}),
        "monitor reference": (["--route", "r", "--since", "2026-01-01", "--until", "2026-01-02"], {1}),
        "eval": ([f"scripted@{url}", "--dataset", str(tmp / "items.jsonl"), "--metric", "contains",
                  "--out", str(tmp / "reports")], {0}),
        "dataset label": ([str(tmp / "items.jsonl"), str(tmp / "silver.jsonl"), "--teacher", f"scripted@{url}"],
                          {0}),
        "bench": (["--model", "scripted", "--model-url", url, "--levels", "1", "--requests", "3", "--lengths", "8:2",
                   "--workers", "1", "--out", str(tmp / "bench")], {0}),
        "optimize": (["--model-url", url, "--model", "scripted", "--strategy", "fewshot", "--limit", "12",
                      "--rounds", "1", "--per-round", "1"], {0}),
        "search": ([str(tmp / "search.yaml")], {0}),
        "routes": (["--url", closed], {2}), "deployer runs": (["--url", closed], {2}),
        "policy show": (["--task", "sentiment", "--url", closed], {0}),  # no deployer: the policy file
        "deployer show": (["cand-x", "--url", closed], {2}), "sglang stop": (["cand-x"], {0}),
        "redteam garak": (["--model", "scripted", "--model-url", url], {2}),  # garak is not installed here
    }


def test_with_json_stdout_is_json_alone(served: str, scripted: ScriptedServer, tmp_path: Path) -> None:
    runs = _runs(tmp_path, scripted.url)
    unaccounted = set(ALL) - set(runs) - set(NOT_RUN) - set(DATA_OUT)
    assert not unaccounted, f"run these here, or say in NOT_RUN why not: {sorted(unaccounted)}"
    runner = CliRunner()
    for name, (args, codes) in runs.items():
        result = runner.invoke(app, [*name.split(), *args, "--json"], env={"COLUMNS": "80"})
        assert result.exit_code in codes, f"{name}: exit {result.exit_code}\n{result.output}"
        if result.exit_code == 0 or result.stdout:
            json.loads(result.stdout)  # nothing but JSON, even where the command shows progress
        else:
            assert result.stderr.strip(), f"{name} failed without saying why"


def _old_spellings(tmp: Path, url: str) -> dict[str, tuple[list[str], set[int], int]]:
    """Commands in the spellings they had before one option set: args, exit codes, deprecation lines."""
    (tmp / "items.jsonl").write_text("".join(json.dumps({"id": f"i{n}", "input": f"q{n}", "expected": "w"}) + "\n"
                                             for n in range(4)))
    return {
        "bench": ([url, "--model", "scripted", "--levels", "1", "--requests", "2", "--lengths", "8:2", "--workers",
                   "1", "--template", "Review: {input}", "--out", str(tmp / "bench")], {0}, 2),
        "eval": ([f"scripted@{url}", "--dataset", str(tmp / "items.jsonl"), "--metric", "contains", "--template",
                  "Q: {input}", "--style", "chat", "--system", "Answer briefly.", "--out", str(tmp / "reports")],
                 {0}, 3),
        "dataset label": ([str(tmp / "items.jsonl"), str(tmp / "silver.jsonl"), "--teacher", f"{url}/scripted",
                           "--template", "Q: {input}"], {0}, 2),
        "optimize": (["--model-url", url, "--model", "scripted", "--optimizer-url", url, "--optimizer-model",
                      "scripted", "--style", "chat", "--strategy", "fewshot", "--limit", "12", "--rounds", "1",
                      "--per-round", "1"], {0}, 2),
        "redteam garak": (["--url", url, "--model", "scripted"], {2}, 1),
        "task update": (["walk-task", "--template", "Q: {input}", "--style", "completion"], {0}, 2),
    }


def test_old_spellings_still_work_with_one_deprecation_line_each(served: str, scripted: ScriptedServer,
                                                                  tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["task", "create", "walk-task"]).exit_code in {0, 1}  # 1: the walk made it already
    for name, (args, codes, lines) in _old_spellings(tmp_path, scripted.url).items():
        result = runner.invoke(app, [*name.split(), *args, "--json"], env={"COLUMNS": "80"})
        assert result.exit_code in codes, f"{name}: exit {result.exit_code}\n{result.output}"
        said = [line for line in result.stderr.splitlines() if line.startswith("deprecated: ")]
        assert len(said) == lines, f"{name}: {said}"
        if result.exit_code == 0:
            json.loads(result.stdout)  # the deprecation lines stay off stdout
