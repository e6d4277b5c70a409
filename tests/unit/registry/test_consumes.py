"""The registry's consumer table: what each of its two groups reads, and how each dedupes."""

from __future__ import annotations

from pathlib import Path

from schemas.events import alerts, degradations, deployments, evaluations, loadtests, models, prompts
from schemas.events.alerts import AlertRaised
from schemas.events.inference import InferenceLogged
from schemas.events.loadtests import LoadtestRequested
from services.registry.bootstrap import GROUP, RegistryService
from services.registry.handlers.projections import CONSUMED_TYPES, dedup_key
from shared.bus.producer import EventProducer
from shared.db import make_engine
from shared.settings import Settings


def service(tmp_path: Path) -> RegistryService:
    return RegistryService(settings=Settings(home=tmp_path), bus=EventProducer("127.0.0.1:1"),
                           engine=make_engine(f"sqlite:///{tmp_path / 'r.db'}"))


def test_the_record_group_reads_what_the_handlers_apply_and_dedupes_through_the_inbox(tmp_path: Path) -> None:
    applied, _ = service(tmp_path).consumes()
    assert applied.group == GROUP == "registry" and applied.dedup_key is dedup_key
    assert applied.types == CONSUMED_TYPES and LoadtestRequested.event_type not in applied.types
    assert applied.topics == sorted({models.TOPIC, evaluations.TOPIC, loadtests.TOPIC, prompts.TOPIC,
                                     deployments.TOPIC, degradations.TOPIC})


def test_each_instance_feeds_its_dashboard_every_event_of_its_topics_without_the_inbox(tmp_path: Path) -> None:
    one, other = service(tmp_path), service(tmp_path)
    _, feed = one.consumes()
    assert feed.group.startswith("registry-feed-") and feed.group != other.consumes()[1].group
    assert feed.dedup_key is None  # in memory (the feed drops a repeated id), not one mark per instance
    assert AlertRaised.event_type in feed.types and LoadtestRequested.event_type in feed.types
    assert InferenceLogged.event_type not in feed.types and alerts.TOPIC in feed.topics
