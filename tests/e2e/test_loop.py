"""The loop closes by events, on the whole embedded stack (every service its own process, the
real broker and database, a local sentiment model): the first iteration's champion serves
production traffic; its deployment starts refusing, the monitor fires a degradation and captures
the refused requests; with no manual step the task's teacher labels them and they become a
new version of the task's regression dataset; the SECOND iteration's Dev evaluation runs
those labelled failures on its challenger and on the champion alike."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from schemas import new_event
from schemas.events.degradations import DegradationDetected, SamplesLabelled
from schemas.events.deployments import RouteTable, RouteTarget, RouteUpdated
from schemas.events.evaluations import EvaluationCompleted, EvaluationRequested
from tests.faults.harness import TASK, IterationDriver, champion_serving, publish
from tests.faults.sentiment_model import LABELS, SentimentModel

pytestmark = pytest.mark.timeout(900)


@pytest.fixture
def model() -> Any:
    server = SentimentModel().start()
    try:
        yield server
    finally:
        server.stop()


def _regression_version(it: IterationDriver, job_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while (job := it.stack.get(f"/api/v1/labelling/jobs/{job_id}")["job"])["dataset_id"] is None:
        assert time.monotonic() < deadline, f"labelling job {job_id} made no dataset: {job}"
        time.sleep(0.5)
    return dict(it.stack.get(f"/api/v1/datasets/{job['dataset_id']}"))


def test_a_second_iteration_is_evaluated_on_the_first_iterations_captured_labelled_failures(
        tmp_path: Path, model: SentimentModel) -> None:
    with champion_serving(tmp_path / "home", model) as it:
        log = it.events
        with it.stack.api() as api:  # the task allows silver labels: its champion labels them
            assert api.patch(f"/api/v1/tasks/{TASK}", json={"teacher_id": it.champion_id}).status_code == 200

        # iteration 1 in production: a reference window, then the champion's deployment refuses
        it.start_traffic()
        model.wait_for_requests("instruct", 60)
        broken = RouteTarget(candidate_id=it.champion_id, url=model.url, model="refusing-instruct")
        update = RouteUpdated(route=TASK, table=RouteTable(route=TASK, targets=[broken]),
                              revision=int(time.time() * 1000))
        asyncio.run(publish(it.stack.bootstrap, new_event(update, source="challenger/e2e", subject=TASK)))
        degraded = log.wait_for(DegradationDetected, lambda d: d.candidate_id == it.champion_id, 300)
        it.stop_traffic()
        labelled = log.wait_for(SamplesLabelled, lambda d: d.job_id == degraded.degradation_id, 120)
        version = _regression_version(it, degraded.degradation_id)
        items = it.stack.get(f"/api/v1/datasets/{version['id']}/items")

        assert degraded.samples and labelled.unlabelled == 0
        assert version["kind"] == "regression" and version["items"] == len(items) > len(degraded.samples)
        assert all("refusal" in s.reason for s in degraded.samples)
        captured = {s.prompt for s in degraded.samples}
        originals = [i for i in items if "method" not in i["metadata"]]
        assert {i["input"] for i in originals} == captured
        assert all(i["expected"] in LABELS and i["metadata"]["labelled_by"].startswith("faults-champion@1")
                   and i["metadata"]["degradation_id"] == degraded.degradation_id
                   and i["metadata"]["route"] == TASK and i["metadata"]["window_id"] for i in items)

        # iteration 2: the challenger's Dev evaluation carries the regression dataset (its newest
        # version: later windows of the broken deployment may have added to it), paired with the champion
        challenger = it.submit_challenger()
        requested = log.wait_for(EvaluationRequested, lambda d: d.candidate_id == challenger, 120)
        assert requested.champion_id == it.champion_id  # one task spec, run on both sides
        [ref] = [d for d in requested.task_spec.datasets if d.kind == "regression"]
        evaluated = it.stack.get(f"/api/v1/datasets/{ref.dataset_id}/items", limit=100_000)
        assert ref.name == version["name"] and {i["id"] for i in items} <= {i["id"] for i in evaluated}
        done = log.wait_for(EvaluationCompleted, lambda d: d.evaluation_id == requested.evaluation_id, 300)

        [regression] = [a for a in done.accuracy if a.dataset == ref.name]
        assert regression.n == min(len(evaluated), requested.max_items or len(evaluated))
        assert regression.champion_score == 1.0  # the champion labelled them
        assert regression.candidate_score < regression.champion_score  # the base model fails them
        assert it.problems() == []
