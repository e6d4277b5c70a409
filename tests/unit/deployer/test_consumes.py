"""The deployer's consumer table: every pipeline event through the inbox in the deployer's
group; logged traffic in a group of its own, outside the inbox (not written per event)."""

from __future__ import annotations

from pathlib import Path

from schemas.events import degradations, deployments, evaluations, inference, loadtests, models, prompts
from services.deployer.bootstrap import Adapters, bootstrap
from services.deployer.config import DeployerSettings
from shared.db import make_engine

PIPELINE = {models.ModelSubmitted, models.ModelStageChanged, models.StageChangeRejected, models.ModelApproved,
            evaluations.EvaluationCompleted, evaluations.EvaluationFailed, loadtests.LoadtestCompleted,
            loadtests.LoadtestFailed, prompts.PromptOptimized, prompts.PromptOptimizationFailed,
            degradations.DegradationDetected, deployments.RouteUpdated}


def test_pipeline_events_go_through_the_inbox_and_logged_traffic_does_not(tmp_path: Path) -> None:
    settings = DeployerSettings(home=tmp_path, deployer_group="dep")
    service = bootstrap(settings, Adapters(engine=make_engine("sqlite://")))
    by_group = {c.group: c for c in service.consumes()}
    assert set(by_group) == {"dep", "dep-traffic"}
    assert set(by_group["dep"].handlers) == PIPELINE and by_group["dep"].dedup_key is not None
    assert set(by_group["dep-traffic"].handlers) == {inference.InferenceLogged, inference.FeedbackReceived}
    assert by_group["dep-traffic"].dedup_key is None
    assert service.inbox is not None and service.outbox is service.deployer.engine
