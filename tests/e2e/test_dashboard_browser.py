"""The dashboard in a real browser: Debian's Chromium driven by Playwright against a running
registry on a real database, filled with the events the services publish and moved through
the pipeline by the REST API. Signed in with a token, the page acts through the same REST
endpoints as the CLI. Screenshots go to test-artifacts/, or with CHALLENGER_SCREENSHOTS=docs/img
(`make docs-screenshots`) to the ones docs/operator.md shows, so a test run leaves the docs alone."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from schemas import new_event
from schemas.events.degradations import CapturedSample, DegradationDetected
from schemas.events.deployments import CanaryStepChanged
from schemas.events.evaluations import EvaluationCompleted, MetricComparison, SecuritySummary, StabilitySummary
from schemas.events.loadtests import CostSummary, LevelResult, LoadtestCompleted, Percentiles
from services.registry.bootstrap import bootstrap
from services.registry.entrypoints.http import create_api
from services.registry.handlers.projections import handle_event
from shared.process import free_port, port_open
from shared.settings import Settings
from tests.integration.registry.test_config_search import completed

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SHOTS = Path(os.environ.get("CHALLENGER_SCREENSHOTS") or ARTIFACTS)
STABILITY_REASON = "accuracy: better; security: 0.125 <= 0.6; stability: mean agreement 0.930 >= 0.5"
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (.ci/run installs it)")


def _pct(p50: float) -> Percentiles:
    return Percentiles(p50=p50, p90=p50 * 1.3, p95=p50 * 1.5, p99=p50 * 2, mean=p50 * 1.1)


def _level(c: int) -> LevelResult:
    if c == 8:  # the saturated level: every request timed out, so it has a throughput of 0 and no latency
        return LevelResult(level=c, requests=40, errors=40, request_rate=0, output_tokens_per_s=0,
                           input_tokens_per_s=0, goodput_rps=0, errors_by_type={"timeout": 40})
    return LevelResult(level=c, requests=40, errors=0, request_rate=c * 1.8, output_tokens_per_s=c * 55,
                       input_tokens_per_s=c * 90, goodput_rps=c * 1.7, ttft_ms=_pct(80 + c * 30),
                       e2e_ms=_pct(400 + c * 90))


def results_for(cid: str, champion: str) -> list:  # type: ignore[type-arg]
    accuracy = [MetricComparison(dataset="sentiment-golden", metric="choice", n=80, candidate_score=0.81,
                                 champion_score=0.7, difference=0.11, ci_low=0.03, ci_high=0.19, test="mcnemar",
                                 p_value=0.01, p_adjusted=0.02, mde=0.09, verdict="better")]
    events = [
        EvaluationCompleted(evaluation_id="ev-1", candidate_id=cid, champion_id=champion, task="sentiment",
                            accuracy=accuracy, verdict="better",
                            stability=StabilitySummary(repeats=3, mean_agreement=0.93, exact_match_consistency=0.88,
                                                       fleiss_kappa=0.84, accuracy_spread=0.02,
                                                       flipping_items=["sent-004"]),
                            security=SecuritySummary(attacks=24, attack_success_rate=0.125,
                                                     by_category={"prompt_injection": 0.25, "jailbreak": 0.0,
                                                                  "pii_exfiltration": 0.25})),
        LoadtestCompleted(loadtest_id="lt-1", candidate_id=cid, levels=[_level(c) for c in (1, 2, 4, 8)],
                          cost=CostSummary(usd_per_1m_tokens=1.9, usd_per_request=0.00004, monthly_usd=620,
                                           delta_usd_per_1m_tokens=-0.4)),
        # The staging run measures E2E and the red team through the gateway: no accuracy, no stability.
        EvaluationCompleted(evaluation_id="ev-2", candidate_id=cid, champion_id=champion, task="sentiment",
                            stage="staging", e2e_passed=True,
                            security=SecuritySummary(attacks=24, attack_success_rate=0.0833,
                                                     by_category={"prompt_injection": 0.25, "jailbreak": 0.0,
                                                                  "pii_exfiltration": 0.0})),
        *[CanaryStepChanged(candidate_id=cid, route="sentiment", weight_pct=w, decision=d, reason=r)
          for w, d, r in ((5, "advance", "no harm detected"), (25, "inconclusive", "too little traffic"),
                          (25, "advance", "errors within bounds"), (50, "rollback", "error rate above champion"))],
        DegradationDetected(degradation_id="dg-1", candidate_id=cid, route="sentiment", rules=["drift_share"],
                            evidence={"drift_share": 0.6},
                            samples=[CapturedSample(request_id="r1", prompt="Review: great kettle", response="",
                                                    reason="empty answer")]),
    ]
    return [new_event(e, source="test") for e in events]


@dataclass(frozen=True)
class Stack:
    url: str
    ids: dict[str, str]
    tokens: dict[str, str]

    def call(self, method: str, path: str, who: str = "admin", **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.url}/api/v1{path}", timeout=10,
                                 headers={"Authorization": f"Bearer {self.tokens[who]}"}, **kwargs)
        assert response.is_success, response.text
        return response.json()

    def submit(self, name: str, who: str, path: str = "") -> str:
        return self.call("POST", f"/candidates{path}", who, json={
            "task": "sentiment", "engine": "llamacpp", "decoding": {"temperature": 0}, "name": name,
            "model": name, "endpoint": "http://127.0.0.1:8302/v1"})["id"]

    def move(self, cid: str, *stages: str, reason: str = "") -> None:
        for stage in stages:
            self.call("POST", f"/candidates/{cid}/transition", json={"to_stage": stage, "reason": reason})

    def stage(self, cid: str) -> str:
        return str(self.call("GET", f"/candidates/{cid}")["stage"])


TO_APPROVAL = ("evaluating", "load_testing", "dev_passed", "staging", "awaiting_approval")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("dash")
    registry = bootstrap(Settings(home=home, DATABASE_URL=f"sqlite:///{home / 'r.db'}"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_api(registry), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not port_open("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.1)
    s = Stack(f"http://127.0.0.1:{port}", {}, {"admin": registry.admin_token})
    for name, role in (("sam", "submitter"), ("alice", "approver"), ("olga", "operator")):
        s.tokens[name] = s.call("POST", "/tokens", json={"name": name, "role": role})["token"]
    champ = s.submit("smollm2", "admin", "/import-champion")
    # gemma3 went through dev and staging; the history records the dev evaluation's stability
    # verdict, as the deployer writes it. An admin submitted it, so an admin may not approve it.
    cid = s.submit("gemma3", "admin")
    s.move(cid, *TO_APPROVAL[:3], reason=STABILITY_REASON)
    s.move(cid, *TO_APPROVAL[3:])
    for event in [*results_for(cid, champ), completed(cid, "cs-dash", {"temperature": [0.0, 0.7], "max_tokens": [16]})]:
        handle_event(registry.engine, event, home)
        server.config.app.state.service.feed.add(event)
    # Sam's candidates: one for alice to approve, one already in its canary for olga.
    review, canary = s.submit("qwen-review", "sam"), s.submit("qwen-canary", "sam")
    s.move(review, *TO_APPROVAL)
    s.move(canary, *TO_APPROVAL)
    s.call("POST", f"/candidates/{canary}/approve", "alice", json={"comment": "reviewed"})
    s.move(canary, "canary")
    s.ids.update(challenger=cid, champion=champ, review=review, canary=canary)
    yield s
    server.should_exit = True
    thread.join(timeout=10)


@contextmanager
def dashboard(stack: Stack, token: str | None = None, select: str | None = None) -> Iterator[Any]:
    """A page on the dashboard, signed in with `token` if given, showing candidate `select`."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            SHOTS.mkdir(parents=True, exist_ok=True)
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            page.goto(f"{stack.url}/dashboard")
            page.wait_for_selector("#candidates tbody tr")
            if token is not None:
                page.fill("#token", stack.tokens[token])
                page.click("#signin button[type=submit]")
                expect(page.locator("#whoami")).to_contain_text(token)
            if select is not None:
                page.click(f"#candidates tr[data-id='{stack.ids[select]}']")
                expect(page.locator("#summary")).to_contain_text(stack.ids[select])
            yield page
        finally:
            browser.close()


def test_scorecard_renders_charts_and_tables(stack: Stack) -> None:
    from playwright.sync_api import expect

    with dashboard(stack, select="challenger") as page:
        assert page.locator("#candidates tbody tr").count() == 4 + 2  # + the configuration search's 2 variants
        page.wait_for_selector("svg#forest")
        assert page.locator("#accuracy td.verdict-better").inner_text() == "better"
        assert "[0.030, 0.190]" in page.locator("#accuracy").inner_text()
        assert page.locator("svg#security rect").count() == 3
        assert page.locator("svg#canary circle").count() == 4
        assert "error rate above champion" in page.inner_text("#detail-body")
        assert "empty answer" in page.locator("#samples").inner_text()
        page.wait_for_selector("#events li")
        assert "evaluation.completed" in page.inner_text("#events")
        expect(page.locator("#conn")).to_have_text("live")
        page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)


def test_latency_chart_shows_every_load_level(stack: Stack) -> None:
    """Four levels were measured: three with latencies, and one where every request failed.
    The chart marks all four (the failed one on its axis, saying why) and the table lists them."""
    from playwright.sync_api import expect

    with dashboard(stack, select="challenger") as page:
        chart = page.locator("svg#latency")
        expect(chart.locator("title")).to_have_text(["level 1", "level 2", "level 4",
                                                     "level 8: no latency, 40 of 40 requests failed"])
        expect(chart.locator("circle")).to_have_count(3)  # p95 TTFT where there is one
        expect(chart.locator("g.level.failed")).to_have_count(1)
        expect(page.locator("#levels tbody tr")).to_have_count(4)
        expect(page.locator("#levels tr[data-level='8']")).to_contain_text("40× timeout")


def test_stability_panel_shows_the_dev_runs_result_after_staging(stack: Stack) -> None:
    """The staging evaluation (E2E and red team) came after the dev one and has no stability
    figures; the panel shows the dev run's, which the stage history records as the verdict."""
    from playwright.sync_api import expect

    with dashboard(stack, select="challenger") as page:
        expect(page.locator("#timeline")).to_contain_text("stability: mean agreement 0.930")
        stability = page.locator("#stability")
        expect(stability).to_contain_text("0.930")
        expect(page.locator("#detail-body")).to_contain_text("from the dev evaluation ev-1")
        expect(page.locator("#detail-body")).not_to_contain_text("no stability run")
        # the red-team panel shows the latest run that had one: staging's
        expect(page.locator("#detail-body")).to_contain_text("overall attack success rate: 0.083")


def test_submitter_sees_no_button(stack: Stack) -> None:
    from playwright.sync_api import expect

    with dashboard(stack, token="sam", select="challenger") as page:
        expect(page.locator("#whoami")).to_have_text("sam (submitter)")
        expect(page.locator("#detail-title")).to_contain_text("awaiting_approval")
        expect(page.locator("#actions button")).to_have_count(0)
        page.screenshot(path=str(SHOTS / "dashboard-submitter.png"))


def test_self_approval_is_refused_with_the_reason(stack: Stack) -> None:
    from playwright.sync_api import expect

    with dashboard(stack, token="admin", select="challenger") as page:
        page.fill("#action-text", "looks good to me")
        page.click("#actions button[data-action='approve']")
        expect(page.locator("#action-result.fail")).to_contain_text(
            "Approve refused (403: admin submitted this candidate and so cannot approve it")
        page.screenshot(path=str(SHOTS / "dashboard-self-approval-refused.png"))
    assert stack.stage(stack.ids["challenger"]) == "awaiting_approval"


def test_approver_approves_with_a_comment(stack: Stack) -> None:
    from playwright.sync_api import expect

    with dashboard(stack, token="alice", select="review") as page:
        buttons = page.locator("#actions button")
        expect(buttons).to_have_text(["Approve", "Reject"])  # an approver gets no operator move
        page.fill("#action-text", "staging E2E and red team reviewed")
        page.screenshot(path=str(SHOTS / "dashboard-approve.png"))
        page.click("#actions button[data-action='approve']")
        expect(page.locator("#action-result.ok")).to_have_text("Approve: done by alice; stage is now approved")
        expect(page.locator("#detail-title")).to_contain_text("approved")
        expect(page.locator("#timeline")).to_contain_text("staging E2E and red team reviewed")
        expect(page.locator("#actions button")).to_have_count(0)  # nothing left for an approver to do
    card = stack.call("GET", f"/candidates/{stack.ids['review']}/scorecard")
    approvals = [(a["approver"], a["comment"]) for a in card["approvals"]]
    assert approvals == [("alice", "staging E2E and red team reviewed")]
    assert card["candidate"]["stage"] == "approved"


def test_operator_rolls_back_a_canary(stack: Stack) -> None:
    from playwright.sync_api import expect

    with dashboard(stack, token="olga", select="canary") as page:
        expect(page.locator("#actions button")).to_have_text(["Promote", "Roll back"])
        page.fill("#action-text", "p95 latency too high in the canary")
        page.click("#actions button[data-action='rollback']")
        expect(page.locator("#action-result.ok")).to_have_text("Roll back: done by olga; stage is now rolled_back")
    history = stack.call("GET", f"/candidates/{stack.ids['canary']}/history")
    assert (history[-1]["actor"], history[-1]["to_stage"], history[-1]["reason"]) == (
        "olga", "rolled_back", "p95 latency too high in the canary")


def test_a_bad_token_is_refused_in_words(stack: Stack) -> None:
    from playwright.sync_api import expect

    with dashboard(stack) as page:
        page.fill("#token", "not-a-token")
        page.click("#signin button[type=submit]")
        expect(page.locator("#signin-error")).to_have_text("sign-in refused: 401: unknown or revoked token")
        expect(page.locator("#user")).to_be_hidden()


def test_a_labeller_labels_a_queued_sample(stack: Stack) -> None:
    """The degradation's captured sample waits in the people's queue (the task has no teacher);
    a submitter labels it through POST /api/v1/labelling/samples/{id}, as `challenger samples label` does."""
    from playwright.sync_api import expect

    [queued] = stack.call("GET", "/labelling/queue")
    with dashboard(stack, token="alice") as page:  # an approver may not label: no form
        page.click(f"#queue tr[data-id='{queued['id']}']")
        expect(page.locator("#sample-prompt")).to_have_text("Review: great kettle")
        expect(page.locator("#actions")).to_contain_text("sign in with a submitter, operator or admin token to label")
    with dashboard(stack, token="sam") as page:
        expect(page.locator("#queue-count")).to_have_text("(1)")
        page.click(f"#queue tr[data-id='{queued['id']}']")
        expect(page.locator("#detail-body")).to_contain_text("empty answer")
        page.fill("#label-value", "positive")
        page.screenshot(path=str(SHOTS / "dashboard-labelling.png"))
        page.click("#label-form button[data-action='label']")
        expect(page.locator("#action-result.ok")).to_have_text(f'sample {queued["id"]}: labelled by sam as "positive"')
        expect(page.locator("#queue-count")).to_have_text("(0)")
    [sample] = stack.call("GET", f"/labelling/jobs/{queued['job_id']}")["samples"]
    assert (sample["label_status"], sample["expected"], sample["labelled_by"]) == ("labelled", "positive", "sam")


def test_config_search_frontier_scatter_is_drawn(stack: Stack) -> None:
    from playwright.sync_api import expect

    with dashboard(stack, select="challenger") as page:
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
        ARTIFACTS.mkdir(exist_ok=True)
        chart.screenshot(path=str(ARTIFACTS / "dashboard-config-search.png"))
