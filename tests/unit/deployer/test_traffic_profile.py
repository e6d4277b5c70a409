"""A task's traffic profile for its monthly cost: its own, else its route's logged traffic, else
the datasets' lengths; each result says where it came from."""

from __future__ import annotations

from schemas.events.evaluations import RequestTokens
from schemas.events.inference import InferenceLogged
from schemas.task import TrafficProfile
from services.deployer.domain import traffic_profile as tp
from services.deployer.domain.policy import CostRule, WorkloadRule
from tests.unit.deployer.factories import task_spec

COST, WORK = CostRule(default_requests_per_month=50_000), WorkloadRule()
MEASURED = RequestTokens(requests=40, input_tokens=61.5, output_tokens=2.2)


def logged(n: int, *, every_s: float = 6.0, rate: float | None = None, **kw: object) -> tp.LoggedTraffic:
    evs = [(InferenceLogged(request_id=f"r{i}", route="sentiment", candidate_id="champ", prompt="p", response="r",
                            input_tokens=100, output_tokens=10, sample_rate=rate, **kw),  # type: ignore[arg-type]
             1000.0 + i * every_s) for i in range(n)]
    return tp.by_route(evs).get("sentiment", tp.LoggedTraffic())


def test_the_tasks_own_profile_comes_first():
    own = task_spec().model_copy(update={"traffic": TrafficProfile(requests_per_month=2e6, input_tokens=300,
                                                                   output_tokens=40)})
    used = tp.resolve("sentiment", own, logged(100), MEASURED, COST, WORK)
    assert (used.requests_per_month, used.input_tokens, used.output_tokens) == (2e6, 300, 40)
    assert used.source == "the task's traffic profile"


def test_without_one_the_routes_logged_traffic_scaled_for_sampling():
    traffic = logged(101, rate=0.1)  # 101 logged over 600 s, each standing for 10
    used = tp.resolve("sentiment", task_spec(), traffic, MEASURED, COST, WORK)
    assert round(used.requests_per_month) == round(1010 / 600 * 730 * 3600)
    assert (used.input_tokens, used.output_tokens) == (100, 10)
    assert used.source.startswith("production traffic logged on route sentiment (1,010 requests over 10.0 min)")


def test_evaluation_red_team_shadow_and_failed_requests_are_not_production_traffic():
    assert logged(30, purpose="eval").requests == 0
    assert logged(30, role="shadow").requests == 0
    assert logged(30, status="error").requests == 0


def test_too_little_logged_traffic_falls_back_to_the_datasets_lengths():
    used = tp.resolve("sentiment", task_spec(), logged(5), MEASURED, COST, WORK)
    assert (used.requests_per_month, used.input_tokens, used.output_tokens) == (50_000, 61.5, 2.2)
    assert used.source.startswith("the datasets' lengths (40 calls in the dev evaluation)")
    assert "cost.default_requests_per_month" in used.source


def test_without_token_counts_the_policys_load_test_shape():
    used = tp.resolve("sentiment", task_spec(), None, None, COST, WORK)
    assert (used.input_tokens, used.output_tokens) == (WORK.loadtest_input_tokens, WORK.loadtest_output_tokens)
    assert "workload.loadtest_*_tokens" in used.source


def test_stored_and_pending_traffic_merge():
    a, b = logged(3), tp.LoggedTraffic(2, 20, 4, 500.0, 5000.0)
    both = tp.merge(a, b)
    assert both.requests == 5 and both.first_at == 500.0 and both.last_at == 5000.0
