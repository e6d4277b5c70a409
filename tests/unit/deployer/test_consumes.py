"""The deployer's consumer table: one group; every pipeline event and feedback through the
inbox, logged inferences outside it (a canary's are folded once per request id by the store)."""

from __future__ import annotations

from pathlib import Path

from schemas import new_event
from schemas.events import degradations, deployments, evaluations, inference, loadtests, models, prompts
from services.deployer.bootstrap import Adapters, bootstrap
from services.deployer.config import DeployerSettings
from shared.db import make_engine

PIPELINE = {models.ModelSubmitted, models.ModelStageChanged, models.StageChangeRejected, models.ModelApproved,
            evaluations.EvaluationCompleted, evaluations.EvaluationFailed, loadtests.LoadtestCompleted,
            loadtests.LoadtestFailed, prompts.PromptOptimized, prompts.PromptOptimizationFailed,
            degradations.DegradationDetected, deployments.RouteUpdated}


def test_pipeline_events_and_feedback_go_through_the_inbox_and_logged_inferences_do_not(tmp_path: Path) -> None:
    settings = DeployerSettings(home=tmp_path, deployer_group="dep")
    service = bootstrap(settings, Adapters(engine=make_engine("sqlite://")))
    (consumes,) = service.consumes()
    assert consumes.group == "dep"
    assert set(consumes.handlers) == PIPELINE | {inference.InferenceLogged, inference.FeedbackReceived}
    assert service.inbox is not None and service.outbox is service.deployer.engine
    key = consumes.dedup_key
    assert key is not None
    submitted = new_event(models.ModelSubmitted.model_construct(candidate_id="c"), source="t")
    logged = new_event(inference.InferenceLogged.model_construct(route="r", request_id="q"), source="t")
    assert key(submitted) == submitted.id
    feedback = new_event(inference.FeedbackReceived.model_construct(route="r", request_id="q"), source="t")
    assert key(logged) is None and key(feedback) == feedback.id
