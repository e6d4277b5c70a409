"""Challenger's contracts: the CloudEvents envelope, every event payload, the topic catalogue."""

from schemas.catalogue import DLQ_TOPIC, EVENT_TYPES, TOPIC_NAMES, TOPICS, Topic
from schemas.envelope import Envelope, EventData, new_event

__all__ = ["DLQ_TOPIC", "EVENT_TYPES", "TOPICS", "TOPIC_NAMES", "Envelope", "EventData", "Topic", "new_event"]
