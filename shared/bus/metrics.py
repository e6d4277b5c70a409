"""Prometheus metrics of every typed consumer (served by each service's /metrics): events
handled, messages dead-lettered and the lag behind each partition's end, by service and group."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

LABELS = ["service", "group", "topic"]

HANDLED = Counter("challenger_consumer_handled", "Events a consumer handled", LABELS)
DEAD_LETTERED = Counter("challenger_consumer_dead_lettered",
                        "Messages a consumer sent to challenger.dlq (undecodable, invalid or failing their handler)",
                        LABELS)
LAG = Gauge("challenger_consumer_lag", "Messages between a consumer's position and its partition's end",
            [*LABELS, "partition"])
DEDUPLICATED = Counter("challenger_consumer_deduplicated",
                       "Events a consumer skipped because its inbox had them handled already", LABELS)
