"""The deployer's consumer table: the pipeline's events one at a time through the inbox; live
traffic in its own group, in batches, outside the inbox (the store folds each request and
feedback once)."""

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


def test_pipeline_events_go_through_the_inbox_and_live_traffic_is_folded_in_batches(tmp_path: Path) -> None:
    settings = DeployerSettings(home=tmp_path, deployer_group="dep")
    service = bootstrap(settings, Adapters(engine=make_engine("sqlite://")))
    pipeline, traffic = service.consumes()
    assert (pipeline.group, traffic.group) == ("dep", "dep-traffic")
    assert set(pipeline.handlers) == PIPELINE and pipeline.batch is None
    assert service.inbox is not None and service.outbox is service.deployer.engine
    submitted = new_event(models.ModelSubmitted.model_construct(candidate_id="c"), source="t")
    assert pipeline.dedup_key is not None and pipeline.dedup_key(submitted) == submitted.id
    assert set(traffic.handlers) == {inference.InferenceLogged, inference.FeedbackReceived}
    assert traffic.dedup_key is None and traffic.batch == service.deployer.fold_traffic and traffic.topics == [
        inference.TOPIC]
