"""The topic catalogue and the registry of event types: the single place both are listed."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.envelope import EventData
from schemas.events import alerts, degradations, deployments, evaluations, inference, loadtests, models, prompts


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    key: str
    description: str
    events: tuple[type[EventData], ...]


DLQ_TOPIC = "challenger.dlq"

TOPICS: tuple[Topic, ...] = (
    Topic(models.TOPIC, 4, "candidate id", "A candidate's life in the registry.",
          (models.ModelSubmitted, models.ModelStageChanged, models.ModelApproved,
           models.StageChangeRequested, models.StageChangeRejected, models.ChampionChanged)),
    Topic(evaluations.TOPIC, 4, "candidate id", "Accuracy, stability, security and E2E runs.",
          (evaluations.EvaluationRequested, evaluations.EvaluationCompleted, evaluations.EvaluationFailed)),
    Topic(loadtests.TOPIC, 4, "candidate id", "Load tests and the cost model.",
          (loadtests.LoadtestRequested, loadtests.LoadtestCompleted, loadtests.LoadtestFailed)),
    Topic(prompts.TOPIC, 4, "candidate id", "Prompt optimization and configuration search.",
          (prompts.PromptOptimizationRequested, prompts.PromptOptimized, prompts.PromptOptimizationFailed,
           prompts.ConfigSearchRequested, prompts.ConfigSearchCompleted)),
    Topic(deployments.TOPIC, 4, "candidate id (route for route.updated)", "Routes, canaries, fallbacks.",
          (deployments.RouteUpdated, deployments.DeploymentChanged, deployments.CanaryStepChanged,
           deployments.FallbackActivated)),
    Topic(inference.TOPIC, 8, "route", "Sampled production traffic and user feedback (high volume).",
          (inference.InferenceLogged, inference.FeedbackReceived)),
    Topic(degradations.TOPIC, 4, "candidate id", "Drift and quality breaches; captured samples labelled and augmented.",
          (degradations.DegradationDetected, degradations.SamplesAugmentationRequested,
           degradations.SamplesAugmented, degradations.LabellingRequested, degradations.SamplesLabelled)),
    Topic(alerts.TOPIC, 1, "candidate id", "Alerts for operators.", (alerts.AlertRaised,)),
    Topic(DLQ_TOPIC, 1, "original key",
          "Dead letters: the original bytes and headers, plus dlq_reason, dlq_topic, dlq_partition, "
          "dlq_offset and dlq_consumer headers.", ()),
)

TOPIC_NAMES: tuple[str, ...] = tuple(t.name for t in TOPICS)

EVENT_TYPES: dict[str, type[EventData]] = {
    cls.event_type: cls for topic in TOPICS for cls in topic.events
}


def topic(name: str) -> Topic:
    for t in TOPICS:
        if t.name == name:
            return t
    raise KeyError(f"unknown topic {name!r}; known: {', '.join(TOPIC_NAMES)}")
