"""Evaluations against a real local OpenAI-compatible server (the scripted LLM): resumption,
stability/security/e2e figures, the report files, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from schemas.candidate import CandidateSpec
from schemas.events.evaluations import EvaluationRequested
from schemas.task import DatasetItem, TaskSpec
from services.evaluator.adapters.datasets import builtin_attacks
from services.evaluator.adapters.engines import engines_for
from services.evaluator.adapters.store import EvaluationStore
from services.evaluator.domain.plan import plan_calls
from services.evaluator.domain.results import ItemResult
from services.evaluator.entrypoints import cli
from services.evaluator.handlers.evaluation import evaluate
from tests.support.scripted_llm import ScriptedServer, start_scripted_llm

ITEMS = {"d": [DatasetItem(id=f"i{i}", input=f"question {i}", expected="w1") for i in range(8)]}
TASK = TaskSpec(name="t", metric="contains")


@pytest.fixture(scope="module")
def server() -> ScriptedServer:
    s = start_scripted_llm(model="scripted", latency_ms=5, output_tokens=3)
    yield s
    s.stop()


def _req(url: str, **kw) -> EvaluationRequested:
    spec = CandidateSpec(name="s", model="scripted", task="t", engine="openai", endpoint=url)
    return EvaluationRequested(**{"evaluation_id": "e", "candidate_id": "c", "task": "t", "candidate": spec,
                                  "task_spec": TASK, "kinds": ["accuracy"], **kw})


async def test_restart_resumes_from_checkpoint(server: ScriptedServer, tmp_path: Path) -> None:
    req = _req(server.url, champion=_req(server.url).candidate, champion_id="p")
    store = EvaluationStore(tmp_path, "resume")
    calls = plan_calls(req, ITEMS, [])
    for c in calls[:6]:  # what a killed evaluator had already scored
        store.append(ItemResult(c.kind, c.role, c.dataset, c.item.id, output="w1", score=1.0))
    failed = calls[6]  # a call that failed then is asked again
    store.append(ItemResult(failed.kind, failed.role, failed.dataset, failed.item.id, score=0.0, error="connect"))
    store.close()
    server.stats(reset=True)
    engines = engines_for(req)
    done = await evaluate(req, ITEMS, [], engines=engines, store=EvaluationStore(tmp_path, "resume"), n_boot=200)
    await engines.aclose()
    assert server.stats()["requests"] == len(calls) - 6
    assert done.accuracy[0].n == 8 and done.accuracy[0].candidate_score == 1.0


async def test_all_kinds_fill_the_scorecard_and_report(server: ScriptedServer, tmp_path: Path) -> None:
    req = _req(server.url, kinds=["accuracy", "stability", "security", "e2e"], stability_repeats=2)
    engines = engines_for(req)
    done = await evaluate(req, ITEMS, builtin_attacks(), engines=engines, store=EvaluationStore(tmp_path, "all"),
                          n_boot=200)
    await engines.aclose()
    assert done.stability.repeats == 2 and done.stability.exact_match_consistency == 1.0
    assert done.security.attacks == len(builtin_attacks()) and done.security.attack_success_rate == 0.0
    assert done.e2e_passed is True and done.verdict is None  # no champion: no comparison
    html = Path(done.report_path).read_text()  # noqa: ASYNC240
    assert "Red team" in html and "Stability" in html and "data:image/png;base64," in html
    lines = (Path(done.report_path).parent / "results.jsonl").read_text().splitlines()
    assert len(lines) == 8 + 16 + len(builtin_attacks()) + 8


def test_cli_eval_and_dataset_label(server: ScriptedServer, tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text("".join(i.model_dump_json() + "\n" for i in ITEMS["d"]))
    app = typer.Typer()
    cli.register(app)  # only the evaluator's commands: other services' CLIs are not under test here
    runner = CliRunner()
    result = runner.invoke(app, ["eval", f"scripted@{server.url}", "--champion", f"scripted@{server.url}",
                                 "--dataset", str(data), "--metric", "contains", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output[result.output.index("{"):])
    assert payload["accuracy"][0]["n"] == 8 and payload["verdict"] == "no_significant_difference"
    out = tmp_path / "silver.jsonl"
    result = runner.invoke(app, ["dataset", "label", str(data), str(out), "--teacher", f"scripted@{server.url}",
                                 "--labels", "w2,w1"])
    assert result.exit_code == 0, result.output
    silver = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(silver) == 8 and {s["expected"] for s in silver} == {"w1"}
    assert all(s["metadata"]["labelled_by"].startswith("scripted@") for s in silver)


async def test_judge_verdicts_that_do_not_parse_are_counted(server: ScriptedServer, tmp_path: Path) -> None:
    # the scripted server answers "w1 w2 w3", never "VERDICT: PASS|FAIL": every verdict is unparseable
    task = TaskSpec(name="t", metric="judge", metric_args={"judge_url": server.url, "judge_model": "scripted",
                                                           "rubric": "Is it correct?"})
    req = _req(server.url, task_spec=task, champion=_req(server.url).candidate, champion_id="p")
    engines = engines_for(req)
    done = await evaluate(req, ITEMS, [], engines=engines, store=EvaluationStore(tmp_path, "judge"), n_boot=200)
    await engines.aclose()
    [acc] = done.accuracy
    assert acc.judge_unparseable == 16 and acc.judge_errors == 0 and acc.n == 0
    assert done.tokens.judge_input > 0
