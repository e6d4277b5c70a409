"""The dashboard in a real browser: Debian's Chromium driven by Playwright against a running
registry on a real database, filled with the events the services publish. Screenshots are
saved under test-artifacts/ for people to look at."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from schemas import new_event
from schemas.events.degradations import CapturedSample, DegradationDetected
from schemas.events.deployments import CanaryStepChanged
from schemas.events.evaluations import EvaluationCompleted, MetricComparison, SecuritySummary, StabilitySummary
from schemas.events.loadtests import CostSummary, LevelResult, LoadtestCompleted, Percentiles
from services.registry.app import bootstrap, create_api
from services.registry.handlers.projections import handle_event
from shared.settings import Settings
from shared.stack.process import free_port, port_open
from tests.integration.registry.test_config_search import completed

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (.ci/run installs it)")


def _pct(p50: float) -> Percentiles:
    return Percentiles(p50=p50, p90=p50 * 1.3, p95=p50 * 1.5, p99=p50 * 2, mean=p50 * 1.1)


def results_for(cid: str, champion: str) -> list:  # type: ignore[type-arg]
    accuracy = [MetricComparison(dataset="sentiment-golden", metric="choice", n=80, candidate_score=0.81,
                                 champion_score=0.7, difference=0.11, ci_low=0.03, ci_high=0.19, test="mcnemar",
                                 p_value=0.01, p_adjusted=0.02, mde=0.09, verdict="better")]
    levels = [LevelResult(level=c, requests=40, errors=0, request_rate=c * 1.8, output_tokens_per_s=c * 55,
                          input_tokens_per_s=c * 90, goodput_rps=c * 1.7, ttft_ms=_pct(80 + c * 30),
                          e2e_ms=_pct(400 + c * 90)) for c in (1, 2, 4, 8)]
    events = [
        EvaluationCompleted(evaluation_id="ev-1", candidate_id=cid, champion_id=champion, task="sentiment",
                            accuracy=accuracy, verdict="better",
                            stability=StabilitySummary(repeats=3, mean_agreement=0.93, exact_match_consistency=0.88,
                                                       fleiss_kappa=0.84, accuracy_spread=0.02,
                                                       flipping_items=["sent-004"]),
                            security=SecuritySummary(attacks=24, attack_success_rate=0.125,
                                                     by_category={"prompt_injection": 0.25, "jailbreak": 0.0,
                                                                  "pii_exfiltration": 0.25})),
        LoadtestCompleted(loadtest_id="lt-1", candidate_id=cid, levels=levels,
                          cost=CostSummary(usd_per_1m_tokens=1.9, usd_per_request=0.00004, monthly_usd=620,
                                           delta_usd_per_1m_tokens=-0.4)),
        *[CanaryStepChanged(candidate_id=cid, route="sentiment", weight_pct=w, decision=d, reason=r)
          for w, d, r in ((5, "advance", "no harm detected"), (25, "inconclusive", "too little traffic"),
                          (25, "advance", "errors within bounds"), (50, "rollback", "error rate above champion"))],
        DegradationDetected(degradation_id="dg-1", candidate_id=cid, route="sentiment", rules=["drift_share"],
                            evidence={"drift_share": 0.6},
                            samples=[CapturedSample(request_id="r1", prompt="Review: great kettle", response="",
                                                    reason="empty answer")]),
    ]
    return [new_event(e, source="test") for e in events]


@pytest.fixture(scope="module")
def registry_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    home = tmp_path_factory.mktemp("dash")
    registry = bootstrap(Settings(home=home, DATABASE_URL=f"sqlite:///{home / 'r.db'}"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_api(registry), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not port_open("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.1)
    url = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {registry.admin_token}"}
    base = {"task": "sentiment", "engine": "llamacpp", "decoding": {"temperature": 0}}
    champ = httpx.post(f"{url}/api/v1/candidates/import-champion", headers=auth, json=base | {
        "name": "smollm2", "model": "smollm2", "endpoint": "http://127.0.0.1:8301/v1"}).json()["id"]
    cid = httpx.post(f"{url}/api/v1/candidates", headers=auth, json=base | {
        "name": "gemma3", "model": "gemma3", "endpoint": "http://127.0.0.1:8302/v1"}).json()["id"]
    for event in [*results_for(cid, champ), completed(cid, "cs-dash", {"temperature": [0.0, 0.7], "max_tokens": [16]})]:
        handle_event(registry.engine, event)
        server.config.app.state.feed.add(event)
    yield url, {"challenger": cid, "champion": champ}
    server.should_exit = True
    thread.join(timeout=10)


def test_scorecard_renders_charts_and_tables(registry_url: tuple[str, dict[str, str]]) -> None:
    from playwright.sync_api import sync_playwright

    url, ids = registry_url
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1500, "height": 1300})
        page.goto(f"{url}/dashboard")
        page.wait_for_selector("#candidates tbody tr")
        assert page.locator("#candidates tbody tr").count() == 2 + 2  # + the configuration search's 2 variants
        page.click(f"#candidates tr[data-id='{ids['challenger']}']")
        page.wait_for_selector("svg#forest")
        assert page.locator("#accuracy td.verdict-better").inner_text() == "better"
        assert "[0.030, 0.190]" in page.locator("#accuracy").inner_text()
        assert page.locator("svg#latency circle").count() == 4
        assert page.locator("svg#security rect").count() == 3
        assert page.locator("svg#canary circle").count() == 4
        assert "error rate above champion" in page.inner_text("#detail-body")
        assert "empty answer" in page.locator("#samples").inner_text()
        page.wait_for_selector("#events li")
        assert "evaluation.completed" in page.inner_text("#events")
        assert page.inner_text("#conn") == "live"
        page.screenshot(path=str(ARTIFACTS / "dashboard-scorecard.png"), full_page=True)
        browser.close()


def test_config_search_frontier_scatter_is_drawn(registry_url: tuple[str, dict[str, str]]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, ids = registry_url
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1500, "height": 1300})
        page.goto(f"{url}/dashboard")
        page.wait_for_selector("#candidates tbody tr")
        page.click(f"#candidates tr[data-id='{ids['challenger']}']")
        chart = page.locator("svg#frontier-cs-dash")
        # The detail panel re-renders on live events, so the chart may be replaced between two
        # calls: wait in the page for a drawn chart of full width instead of reading its box once.
        page.wait_for_function("() => (document.querySelector('svg#frontier-cs-dash')"
                               "?.getBoundingClientRect().width ?? 0) > 400")
        expect(chart.locator("circle[data-variant]")).to_have_count(3)  # default + 2 variants
        expect(chart.locator("polygon.recommended")).to_have_count(1)
        expect(chart.locator("line.ci")).to_have_count(3)
        expect(chart.locator("circle.frontier-mark").first).to_be_visible()
        table = page.locator("#config-search-cs-dash")
        expect(table.locator("tbody tr")).to_have_count(3)
        expect(table).to_contain_text("recommended")
        chart.screenshot(path=str(ARTIFACTS / "dashboard-config-search.png"))
        browser.close()
