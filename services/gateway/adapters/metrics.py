"""Prometheus metrics of the gateway (served by the shared /metrics endpoint)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

REQUESTS = Counter("gateway_requests", "Requests answered", ["route", "target", "status"])
ERRORS = Counter("gateway_upstream_errors", "Failed upstream attempts", ["route", "target", "kind"])
FALLBACKS = Counter("gateway_fallbacks", "Requests answered by a target other than the chosen one", ["route"])
LATENCY = Histogram("gateway_request_latency_seconds", "End-to-end latency", ["route", "target"],
                    buckets=_LATENCY_BUCKETS)
TTFT = Histogram("gateway_ttft_seconds", "Time to the first streamed byte", ["route", "target"],
                 buckets=_LATENCY_BUCKETS)
GUARDRAILS = Counter("gateway_guardrail_hits", "Guardrail blocks, redactions and flags",
                     ["route", "stage", "guardrail", "action"])
CACHE = Counter("gateway_cache", "Response cache lookups", ["route", "result"])
SHADOWS = Counter("gateway_shadow_requests", "Mirrored requests", ["route", "target", "status"])
LOG_DROPPED = Counter("gateway_inference_log_dropped", "inference.logged events dropped (queue full)")
LOG_SENT = Counter("gateway_inference_log_sent", "inference.logged events handed to Kafka")
LOG_FAILED = Counter("gateway_inference_log_failed", "inference.logged events Kafka refused")
RATE_LIMITED = Counter("gateway_rate_limited", "Requests refused with 429 by a per-key rate limit", ["client"])
ROUTE_SHARE = Gauge("gateway_route_target_share", "Configured share of traffic (0..1) of each target of a live "
                    "route (the canary arms)", ["route", "target"])
