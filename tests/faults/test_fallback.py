"""A promoted champion degrades in production and the route falls back to its standby: the
registry records the fallback in ONE move (the degraded candidate rolled back with the
degradation id as the reason, the standby production and champion again), and
`challenger doctor` finds the record and the gateway in agreement after the promotion and
after the fallback.

The degradation is published on the bus as the monitor publishes it (its detection is the
monitor's own tests' and the demo's business); everything after it is the real stack."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from schemas import new_event
from schemas.events.degradations import DegradationDetected
from schemas.events.deployments import FallbackActivated
from schemas.events.models import ModelStageChanged
from tests.faults.harness import TASK, champion_serving, publish
from tests.faults.sentiment_model import SentimentModel


def test_a_degraded_champion_falls_back_to_its_standby_and_the_record_follows(
        tmp_path: Path, model: SentimentModel) -> None:
    with champion_serving(tmp_path / "home", model) as it:
        stack, log = it.stack, it.events
        old = it.champion_id
        it.submit_challenger()
        new = it.derived_id()
        it.wait_stage(new, "awaiting_approval", timeout_s=400)
        it.approve(new)
        it.start_traffic()
        try:
            it.wait_stage(new, "production", timeout_s=400)
            it.wait_stage(old, "standby")
            assert stack.mismatches() == []  # promoted: the new champion serves, the old one is its fallback

            degradation = f"dg-{uuid.uuid4().hex[:8]}"
            asyncio.run(publish(stack.bootstrap, new_event(
                DegradationDetected(degradation_id=degradation, candidate_id=new, route=TASK, rules=["drift_share"],
                                    evidence={"drift_share": 0.6}), source="challenger-monitor", subject=TASK)))
            fell = log.wait_for(FallbackActivated, lambda d: d.degradation_id == degradation)
            assert fell.candidate_id == new and fell.fallback_candidate_id == old
            it.wait_stage(new, "rolled_back")
            back = log.wait_for(ModelStageChanged, lambda d: d.candidate_id == old and d.to_stage == "production")
        finally:
            it.stop_traffic()

        assert back.from_stage == "standby" and f"degradation {degradation}" in back.reason
        [rolled] = log.of_type(ModelStageChanged, lambda d: d.candidate_id == new and d.to_stage == "rolled_back")
        assert f"degradation {degradation}" in rolled.data.reason
        assert stack.get(f"/api/v1/tasks/{TASK}")["champion_id"] == old
        assert it.problems() == []  # includes `challenger doctor`: the gateway serves the champion
