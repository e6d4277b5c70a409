"""Issue 10 end to end: the evaluator's Dev run against the engine and its staging run through
the gateway (the route table and evaluation request the deployer builds) send the model the
same prompts and score the same answers."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from schemas.candidate import CandidateSpec, Decoding, ProcessingStep
from schemas.events.deployments import RouteTable
from schemas.events.evaluations import EvaluationRequested
from schemas.task import DatasetItem, TaskSpec
from services.deployer.domain import driver
from services.deployer.domain.policy import Policy
from services.deployer.domain.run import Run
from services.evaluator.adapters.engines import engines_for
from services.evaluator.adapters.store import EvaluationStore
from services.evaluator.handlers.evaluation import evaluate
from shared.pipeline import Stage

from .conftest import running_gateway

ITEMS = {"golden": [DatasetItem(id=f"i{i}", input=f"review number {i}", expected="positive") for i in range(6)]}
TASK = TaskSpec(name="sentiment", metric="exact_match", prompt_style="completion", prompt_version="pv-1",
                prompt_template="Review: great\nSentiment: positive\n\nReview: {input}\nSentiment:")
LABELS = ProcessingStep(op="label_map", args={"map": {"positive": "positive", "negative": "negative"}})


async def _evaluate(req: EvaluationRequested, home: Path, name: str) -> list[tuple]:
    engines = engines_for(req)
    try:
        done = await evaluate(req, ITEMS, [], engines=engines, store=EvaluationStore(home, name), n_boot=100)
    finally:
        await engines.aclose()
    assert done.e2e_passed is True, done
    rows = [json.loads(line) for line in (Path(done.report_path).parent / "results.jsonl").read_text().splitlines()]
    return sorted((r["item_id"], r["output"], r["score"]) for r in rows)


async def _sent(url: str) -> list[tuple]:
    async with httpx.AsyncClient() as http:
        bodies = (await http.get(f"{url}/stats")).json()["bodies"]
    return sorted((b["prompt"], b["max_tokens"], tuple(b["stop"]), b["temperature"], b["seed"]) for b in bodies)


async def test_staging_through_the_gateway_sends_and_scores_what_dev_did(broker, upstreams, tmp_path: Path):
    model = upstreams("base", "--answer", " Positive\n\nReview: more")
    spec = CandidateSpec(name="derived", model="gemma3", task="sentiment", engine="openai", endpoint=model.url,
                         decoding=Decoding(max_tokens=4, stop=["\n"], seed=7), postprocess=[LABELS],
                         prompt_version="pv-1")
    dev = EvaluationRequested(evaluation_id="dev", candidate_id="cand", task="sentiment", candidate=spec,
                              task_spec=TASK, kinds=["e2e"])
    dev_scored = await _evaluate(dev, tmp_path, "dev")
    dev_sent = await _sent(model.url)

    run = Run(candidate_id="cand", task="sentiment", correlation_id="c", spec=spec, task_spec=TASK,
              expected=Stage.dev_passed, stage=Stage.dev_passed)
    staged = driver.go_staging(driver.Result(run), driver.Env(policy=Policy(), gateway_url="http://placeholder"))
    [table] = [o for o in staged.out if isinstance(o, RouteTable)]
    async with running_gateway(broker, tmp_path, {table.route: table.model_dump(mode="json")}) as gw:
        env = driver.Env(policy=Policy(), gateway_url=str(gw.base_url))
        [req] = [o for o in driver.go_staging(driver.Result(run), env).out if isinstance(o, EvaluationRequested)]
        staging_scored = await _evaluate(req.model_copy(update={"kinds": ["e2e"]}), tmp_path, "staging")
    both = await _sent(model.url)
    assert staging_scored == dev_scored and {o for _, o, _ in dev_scored} == {"positive"}
    assert both == sorted(dev_sent * 2)  # the staging run sent the model exactly the Dev prompts and decoding
    assert {p for p, *_ in dev_sent} == {TASK.prompt_template.format(input=i.input) for i in ITEMS["golden"]}
