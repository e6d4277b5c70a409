"""Every Grafana dashboard query names a metric the services really export: the gateway,
the evaluator and the monitor run as their own processes (`python -m services.<name>`, as
the embedded stack starts them) on a real broker, one request goes through the gateway, and
each process's /metrics is scraped. A metric a dashboard wants must be there (declared, or
with samples); a panel on a metric nobody exports fails here, not on an operator's screen."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from challenger.stack.services import service_proc
from shared.process import Proc, free_port
from tests.conftest import started
from tests.integration.gateway.conftest import Upstream, chat, target
from tests.integration.gateway.processes import gateway_process

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[3]
DASHBOARDS = sorted((ROOT / "infra/grafana/dashboards").glob("*.json"))
# sample names each metric type adds to its family's name (prometheus_client's exposition)
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
            "gauge": ("",), "summary": ("_sum", "_count", "_created"), "info": ("_info",)}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not its functions, labels or keywords)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        if match.group(0) not in KEYWORDS and not expr[match.end():].lstrip().startswith("("):
            names.add(match.group(0))
    return names


def dashboard_queries(board: dict) -> list[tuple[str, set[str]]]:
    """(where, metric names) for every panel target and every query variable."""
    found = [(f"{board['title']} / {panel['title']}", metric_names(t["expr"]))
             for panel in board["panels"] for t in panel["targets"]]
    for variable in board.get("templating", {}).get("list", []):
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        found.append((f"{board['title']} / ${variable['name']}", set(re.findall(r"label_values\(\s*(\w+)", query))))
    return found


def exported(text: str) -> tuple[set[str], set[str]]:
    """(every name a scrape declares, the names with samples)."""
    declared, sampled = set(), set()
    for family in text_string_to_metric_families(text):
        declared |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
        sampled |= {sample.name for sample in family.samples}
    return declared | sampled, sampled


def test_the_name_extraction_sees_metrics_only() -> None:
    expr = ('sum by (route, target) (rate(gateway_requests_total{route=~"$route", target!="-"}[5m])) / '
            'ignoring(target) group_left sum by (route) (rate(gateway_requests_total[5m])) + '
            'histogram_quantile(0.95, sum by (le) (rate(x_seconds_bucket[5m]))) and on(route) up')
    assert metric_names(expr) == {"gateway_requests_total", "x_seconds_bucket", "up"}


@pytest.fixture(scope="module")
def scrapes(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """/metrics of a gateway (after one proxied request), an evaluator and a monitor."""
    tmp_path = tmp_path_factory.mktemp("grafana")
    upstream = Upstream("grafana")
    procs: list[Proc] = []
    try:
        for name in ("evaluator", "monitor"):
            home = tmp_path / name
            procs.append(started(service_proc(name, home, free_port(), {
                "CHALLENGER_HOME": str(home), "CHALLENGER_KAFKA_BOOTSTRAP": broker,
                "CHALLENGER_REGISTRY_URL": "http://127.0.0.1:1", "PYTHONUNBUFFERED": "1"})))
        routes = {"dash": {"targets": [target("champ", upstream.url)]}}
        with gateway_process(broker, tmp_path / "gateway", routes, SUBSCRIBE="true") as gateway:
            answer = httpx.post(f"{gateway}/v1/chat/completions", json=chat("dash", "hello"), timeout=30)
            assert answer.status_code == 200
            urls = {"gateway": gateway, **{p.name: str(p.url) for p in procs}}
            yield {name: httpx.get(f"{url}/metrics", timeout=10).text for name, url in urls.items()}
    finally:
        for proc in procs:
            proc.stop()
        upstream.kill()


def test_every_dashboard_query_names_an_exported_metric(scrapes: dict[str, str]) -> None:
    assert len(DASHBOARDS) >= 4
    declared, sampled = set(), set()
    for text in scrapes.values():
        names, samples = exported(text)
        declared |= names
        sampled |= samples
    assert "gateway_requests_total" in sampled  # the scrape saw the request, not just declarations
    missing = []
    for path in DASHBOARDS:
        queries = dashboard_queries(json.loads(path.read_text()))
        assert queries, f"{path.name} has no queries"
        for where, names in queries:
            assert names, f"{where}: no metric found in its query"
            missing += [f"{where}: {name}" for name in sorted(names - declared)]
    assert not missing, "dashboard queries name metrics no service exports:\n" + "\n".join(missing)


def test_each_service_exports_its_own_panels_metrics(scrapes: dict[str, str]) -> None:
    """Consumer lag and dead letters come from every service with consumers, drift from the
    monitor, evaluations from the evaluator."""
    for name in ("gateway", "monitor", "evaluator"):
        names, _ = exported(scrapes[name])
        assert {"challenger_consumer_lag", "challenger_consumer_dead_lettered_total"} <= names, name
    assert "challenger_monitor_drift_share" in exported(scrapes["monitor"])[0]
    assert "challenger_evaluations_total" in exported(scrapes["evaluator"])[0]
    assert "gateway_route_target_share" in exported(scrapes["gateway"])[1]  # the routes file's table
