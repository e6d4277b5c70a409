"""Render the Grafana dashboards in infra/grafana/dashboards/*.json from the panel lists
below. `python infra/grafana/render.py [--check]`; a test fails when the JSON is stale and
when a query names a metric no service exports.

Grafana provisions them (infra/grafana/provisioning/) from docker-compose.yml, reading the
Prometheus datasource whose uid is DATASOURCE. docs/operator.md describes every panel.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("dashboards")
DATASOURCE = {"type": "prometheus", "uid": "challenger-prometheus"}
RATE = "[5m]"


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    exprs: tuple[tuple[str, str], ...]  # (PromQL, legend)
    unit: str = "short"
    kind: str = "timeseries"


def quantile(q: float, metric: str, by: str, where: str = "") -> str:
    return f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket{where}{RATE})))"


ROUTE = '{route=~"$route"}'
ROUTE_SERVED = '{route=~"$route", target!="-"}'
ERRORS = '{route=~"$route", status!~"2.."}'

GATEWAY = [
    Panel("Requests by route and target", "Answered requests per second, by HTTP status.",
          ((f"sum by (route, target, status) (rate(gateway_requests_total{ROUTE}{RATE}))",
            "{{route}} / {{target}} / {{status}}"),), "reqps"),
    Panel("Error ratio by route", "Share of requests not answered with 2xx (4xx from guardrails and clients, "
          "502/503 when no target could answer).",
          ((f"sum by (route) (rate(gateway_requests_total{ERRORS}{RATE})) / "
            f"sum by (route) (rate(gateway_requests_total{ROUTE}{RATE}))", "{{route}}"),), "percentunit"),
    Panel("Latency p50 / p95 / p99 by route and target", "End-to-end latency seen by the gateway.",
          tuple((quantile(q, "gateway_request_latency_seconds", "route, target", ROUTE),
                 f"p{round(q * 100)} {{{{route}}}} / {{{{target}}}}") for q in (0.5, 0.95, 0.99)), "s"),
    Panel("Time to first byte p95 (streams)", "Streaming requests: time to the first byte sent.",
          ((quantile(0.95, "gateway_ttft_seconds", "route, target", ROUTE), "{{route}} / {{target}}"),), "s"),
    Panel("Upstream errors by target and kind", "Failed attempts on a target (timeouts, connection errors, "
          "5xx, output guardrail rejections); each is followed by a fallback when one is left.",
          ((f"sum by (route, target, kind) (rate(gateway_upstream_errors_total{ROUTE}{RATE}))",
            "{{route}} / {{target}} / {{kind}}"),), "reqps"),
    Panel("Fallbacks", "Requests answered by a target other than the one chosen.",
          ((f"sum by (route) (rate(gateway_fallbacks_total{ROUTE}{RATE}))", "{{route}}"),), "reqps"),
    Panel("Rate-limited requests by key", "429s from the per-key requests/tokens per minute limits.",
          ((f"sum by (client) (rate(gateway_rate_limited_total{RATE}))", "{{client}}"),), "reqps"),
    Panel("Cache results", "Response cache lookups: hit, miss, bypass.",
          ((f"sum by (route, result) (rate(gateway_cache_total{ROUTE}{RATE}))", "{{route}} / {{result}}"),),
          "reqps"),
    Panel("Guardrail hits", "Blocks, redactions and flags, by stage and guardrail.",
          ((f"sum by (route, stage, guardrail, action) (rate(gateway_guardrail_hits_total{ROUTE}{RATE}))",
            "{{route}} {{stage}} {{guardrail}} {{action}}"),), "reqps"),
    Panel("Inference log", "inference.logged events handed to Kafka, refused, and dropped (queue full).",
          ((f"rate(gateway_inference_log_sent_total{RATE})", "sent"),
           (f"rate(gateway_inference_log_failed_total{RATE})", "refused"),
           (f"rate(gateway_inference_log_dropped_total{RATE})", "dropped")), "ops"),
]

CANARY = [
    Panel("Configured traffic share per arm", "The routing table's weight of each target, as a share of the "
          "route (the deployer moves it step by step during a canary).",
          ((f"gateway_route_target_share{ROUTE}", "{{route}} / {{target}}"),), "percentunit"),
    Panel("Observed traffic share per arm", "Answered requests per target as a share of the route's.",
          ((f"sum by (route, target) (rate(gateway_requests_total{ROUTE_SERVED}{RATE})) / ignoring(target) "
            f"group_left sum by (route) (rate(gateway_requests_total{ROUTE_SERVED}{RATE}))",
            "{{route}} / {{target}}"),), "percentunit"),
    Panel("Latency p95 per arm", "Compare the candidate's arm with the champion's.",
          ((quantile(0.95, "gateway_request_latency_seconds", "route, target", ROUTE), "{{route}} / {{target}}"),),
          "s"),
    Panel("Errors per arm", "Failed upstream attempts per target.",
          ((f"sum by (route, target) (rate(gateway_upstream_errors_total{ROUTE}{RATE}))", "{{route}} / {{target}}"),),
          "reqps"),
    Panel("Shadow requests", "Mirrored requests per shadow target (ok, error, skipped at the in-flight cap).",
          ((f"sum by (route, target, status) (rate(gateway_shadow_requests_total{ROUTE}{RATE}))",
            "{{route}} / {{target}} / {{status}}"),), "reqps"),
]

EVENTS = [
    Panel("Consumer lag per service", "Messages between each consumer group's position and the end of its "
          "partitions (summed over partitions).",
          (("sum by (service, group) (challenger_consumer_lag)", "{{service}} / {{group}}"),)),
    Panel("Dead-letter rate", "Messages sent to challenger.dlq per second: undecodable, invalid, or failing "
          "their handler after retries. `challenger watch` shows their reasons.",
          ((f"sum by (service, group, topic) (rate(challenger_consumer_dead_lettered_total{RATE}))",
            "{{service}} / {{group}} / {{topic}}"),), "ops"),
    Panel("Events handled", "Events each consumer group handled per second.",
          ((f"sum by (service, group) (rate(challenger_consumer_handled_total{RATE}))", "{{service}} / {{group}}"),),
          "ops"),
    Panel("Evaluations by outcome", "Evaluator requests handled.",
          ((f"sum by (outcome) (rate(challenger_evaluations_total{RATE}))", "{{outcome}}"),), "ops"),
]

MONITOR = [
    Panel("Drift share per window", "Share of drifted features in the last window analysed, per route and "
          "candidate (Evidently); the monitor's drift rule fires above its threshold.",
          (("challenger_monitor_drift_share", "{{route}} / {{candidate}}"),), "percentunit"),
    Panel("Windows closed and degradations", "Monitoring windows closed, and degradation.detected events "
          "published.",
          ((f"rate(challenger_monitor_windows_total{RATE})", "windows"),
           (f"rate(challenger_monitor_degradations_total{RATE})", "degradations"),
           (f"rate(challenger_monitor_drift_skipped_total{RATE})", "windows without drift (backlog)")), "ops"),
    Panel("Drift computation p95", "Time Evidently takes per window.",
          ((quantile(0.95, "challenger_monitor_drift_seconds", "instance"), "p95 {{instance}}"),),
          "s"),
    Panel("Records ingested", "inference.logged records in the windows, and red-team records left out.",
          ((f"rate(challenger_monitor_records_total{RATE})", "ingested"),
           (f"sum by (purpose) (rate(challenger_monitor_records_excluded_total{RATE}))", "excluded {{purpose}}"),
           (f"rate(challenger_monitor_feedback_total{RATE})", "feedback")), "ops"),
]

ROUTE_VARIABLE = {"name": "route", "label": "route", "type": "query", "datasource": DATASOURCE,
                  "query": {"query": "label_values(gateway_requests_total, route)", "refId": "route"},
                  "definition": "label_values(gateway_requests_total, route)",
                  "includeAll": True, "multi": True, "allValue": ".*", "refresh": 2,
                  "current": {"text": "All", "value": "$__all"}}

DASHBOARDS: dict[str, tuple[str, list[Panel], bool]] = {
    "challenger-gateway": ("Challenger · Gateway", GATEWAY, True),
    "challenger-canary": ("Challenger · Canary arms", CANARY, True),
    "challenger-events": ("Challenger · Events (lag, dead letters)", EVENTS, False),
    "challenger-monitor": ("Challenger · Monitor (drift)", MONITOR, False),
}


def panel_json(panel: Panel, index: int) -> dict[str, Any]:
    return {
        "id": index + 1, "type": panel.kind, "title": panel.title, "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]},
                    "tooltip": {"mode": "multi"}},
        "targets": [{"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
                    for i, (expr, legend) in enumerate(panel.exprs)],
    }


def dashboard(uid: str, title: str, panels: list[Panel], by_route: bool) -> dict[str, Any]:
    return {
        "uid": uid, "title": title, "tags": ["challenger"], "timezone": "utc", "schemaVersion": 39,
        "editable": True, "refresh": "30s", "time": {"from": "now-3h", "to": "now"},
        "templating": {"list": [ROUTE_VARIABLE] if by_route else []},
        "panels": [panel_json(p, i) for i, p in enumerate(panels)],
    }


def render() -> dict[str, str]:
    return {f"{uid}.json": json.dumps(dashboard(uid, *spec), indent=2) + "\n" for uid, spec in DASHBOARDS.items()}


def main(argv: list[str]) -> int:
    files = render()
    if "--check" in argv:
        stale = [name for name, text in files.items() if not (OUT / name).exists() or (OUT / name).read_text() != text]
        if stale:
            print(f"infra/grafana/dashboards is stale ({', '.join(stale)}): run python infra/grafana/render.py",
                  file=sys.stderr)
            return 1
        return 0
    OUT.mkdir(exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
