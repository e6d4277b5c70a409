"""A task's traffic profile for its monthly cost, and where it comes from. Pure.

In order: the task's own profile (set in the registry); else the production traffic the
gateway logged on the task's route; else the datasets' lengths as the dev evaluation counted
them, at the policy's default volume; else the policy's load-test shape."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from schemas.events.evaluations import RequestTokens
from schemas.events.inference import InferenceLogged
from schemas.events.loadtests import TrafficUsed
from schemas.task import TaskSpec
from services.deployer.domain.policy import CostRule, WorkloadRule

SECONDS_PER_MONTH = 730.0 * 3600.0  # the loadtester's HOURS_PER_MONTH
MIN_LOGGED_REQUESTS = 20  # fewer logged requests say too little about a month
MIN_LOGGED_SPAN_S = 60.0


@dataclass(frozen=True)
class LoggedTraffic:
    """A route's ordinary production traffic as the gateway logged it, scaled up for its sampling."""

    requests: float = 0.0
    input_tokens: float = 0.0  # sums over the requests they stand for
    output_tokens: float = 0.0
    first_at: float | None = None  # epoch seconds
    last_at: float | None = None

    @property
    def span_s(self) -> float:
        return (self.last_at - self.first_at) if self.first_at is not None and self.last_at is not None else 0.0


def counts(ev: InferenceLogged) -> bool:
    """Ordinary traffic answered by the route's primary target (not evaluation, red team or shadows)."""
    return ev.role == "primary" and ev.purpose is None and ev.status == "ok"


def by_route(logged: Iterable[tuple[InferenceLogged, float]]) -> dict[str, LoggedTraffic]:
    """Per route, the ordinary traffic (`counts`) among logged inferences, each with when it was
    logged (epoch seconds), scaled up for its sampling. Plain sums per route: this runs on
    every logged inference the deployer consumes."""
    sums: dict[str, list[float]] = {}
    for ev, at in logged:
        if not counts(ev):
            continue
        weight = 1.0 / (ev.sample_rate or 1.0)
        s = sums.get(ev.route)
        if s is None:
            sums[ev.route] = [weight, weight * ev.input_tokens, weight * ev.output_tokens, at, at]
        else:
            s[0] += weight
            s[1] += weight * ev.input_tokens
            s[2] += weight * ev.output_tokens
            s[3] = min(s[3], at)
            s[4] = max(s[4], at)
    return {route: LoggedTraffic(*s) for route, s in sums.items()}


def merge(a: LoggedTraffic, b: LoggedTraffic) -> LoggedTraffic:
    firsts = [t for t in (a.first_at, b.first_at) if t is not None]
    lasts = [t for t in (a.last_at, b.last_at) if t is not None]
    return LoggedTraffic(a.requests + b.requests, a.input_tokens + b.input_tokens, a.output_tokens + b.output_tokens,
                         min(firsts) if firsts else None, max(lasts) if lasts else None)


def resolve(route: str, task: TaskSpec | None, logged: LoggedTraffic | None, measured: RequestTokens | None,
            cost: CostRule, workload: WorkloadRule) -> TrafficUsed:
    if task is not None and task.traffic is not None:
        return TrafficUsed(**task.traffic.model_dump(), source="the task's traffic profile")
    if logged is not None and logged.requests >= MIN_LOGGED_REQUESTS and logged.span_s >= MIN_LOGGED_SPAN_S:
        minutes = logged.span_s / 60.0
        return TrafficUsed(requests_per_month=logged.requests / logged.span_s * SECONDS_PER_MONTH,
                           input_tokens=max(1.0, logged.input_tokens / logged.requests),
                           output_tokens=max(1.0, logged.output_tokens / logged.requests),
                           source=f"production traffic logged on route {route} ({logged.requests:,.0f} requests "
                                  f"over {minutes:,.1f} min)")
    volume = f"{cost.default_requests_per_month:,.0f} requests/month from the policy's cost.default_requests_per_month"
    if measured is not None and measured.requests > 0 and measured.input_tokens > 0:
        return TrafficUsed(requests_per_month=cost.default_requests_per_month,
                           input_tokens=max(1.0, measured.input_tokens), output_tokens=max(1.0, measured.output_tokens),
                           source=f"the datasets' lengths ({measured.requests} calls in the dev evaluation); {volume}")
    return TrafficUsed(requests_per_month=cost.default_requests_per_month, input_tokens=workload.loadtest_input_tokens,
                       output_tokens=workload.loadtest_output_tokens,
                       source=f"the policy's workload.loadtest_*_tokens (no token counts measured); {volume}")
