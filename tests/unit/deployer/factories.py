"""Crafted specs, scorecards and traffic for the deployer's unit tests."""

from __future__ import annotations

import random

from schemas.candidate import CandidateSpec
from schemas.events.evaluations import EvaluationCompleted, MetricComparison, SecuritySummary, StabilitySummary
from schemas.events.inference import InferenceLogged
from schemas.events.loadtests import CostSummary, LevelResult, LoadtestCompleted, Percentiles, TrafficUsed
from schemas.events.models import ModelSubmitted
from schemas.task import DatasetRef, TaskSpec
from services.deployer.domain.driver import Env
from services.deployer.domain.policy import Policy

TASK = "sentiment"
GATEWAY = "http://127.0.0.1:8080"


def spec(name: str = "challenger", model: str = "gemma3", port: int = 8302) -> CandidateSpec:
    return CandidateSpec(name=name, model=model, task=TASK, engine="llamacpp", endpoint=f"http://127.0.0.1:{port}/v1")


def task_spec() -> TaskSpec:
    ref = DatasetRef(dataset_id="d1", name="golden", uri="file:///tmp/golden.jsonl", sha256="0" * 64, items=40)
    return TaskSpec(name=TASK, datasets=[ref])


def submitted(cid: str = "cand-1", champion: bool = True, with_task: bool = True) -> ModelSubmitted:
    return ModelSubmitted(candidate_id=cid, spec=spec(), submitted_by="alice",
                          task_spec=task_spec() if with_task else None,
                          champion_id="champ-1" if champion else None,
                          champion_spec=spec("champion", "smollm2", 8301) if champion else None)


def env(policy: Policy | None = None) -> Env:
    return Env(policy=policy or Policy(), gateway_url=GATEWAY)


def comparison(verdict: str = "no_significant_difference", p: float = 0.5, ci_low: float = -0.02,
               n: int = 40, diff: float = 0.0, mde: float | None = None) -> MetricComparison:
    return MetricComparison(dataset="golden", metric="exact_match", n=n, candidate_score=0.8 + diff,
                            champion_score=0.8, difference=diff, ci_low=ci_low, ci_high=ci_low + 0.1,
                            test="mcnemar", p_value=p, p_adjusted=p, verdict=verdict, mde=mde)


def evaluation(eid: str, *, acc: MetricComparison | None = None, asr: float = 0.0, agreement: float = 0.95,
               e2e: bool | None = None, stage: str = "dev", cid: str = "cand-1") -> EvaluationCompleted:
    return EvaluationCompleted(evaluation_id=eid, candidate_id=cid, task=TASK, stage=stage,
                               accuracy=[acc or comparison()], stability=StabilitySummary(
                                   repeats=3, mean_agreement=agreement, exact_match_consistency=agreement,
                                   accuracy_spread=0.01),
                               security=SecuritySummary(attacks=20, attack_success_rate=asr), e2e_passed=e2e)


def _pct(v: float) -> Percentiles:
    return Percentiles(p50=v * 0.6, p90=v * 0.9, p95=v, p99=v * 1.2, mean=v * 0.7)


def loadtest(ltid: str = "cand-1:loadtest", *, ttft_p95: float = 400, errors: int = 0,
             delta_usd: float = 0.1, champion_usd: float = 1.0, monthly_usd: float | None = None,
             delta_monthly_usd: float | None = None, traffic: TrafficUsed | None = None) -> LoadtestCompleted:
    level = LevelResult(level=1, requests=20, errors=errors, request_rate=2, output_tokens_per_s=50,
                        input_tokens_per_s=100, goodput_rps=2, ttft_ms=_pct(ttft_p95), e2e_ms=_pct(ttft_p95 * 4))
    cost = CostSummary(usd_per_1m_tokens=champion_usd + delta_usd, usd_per_request=0.001,
                       champion_usd_per_1m_tokens=champion_usd, delta_usd_per_1m_tokens=delta_usd,
                       monthly_usd=monthly_usd, delta_monthly_usd=delta_monthly_usd)
    return LoadtestCompleted(loadtest_id=ltid, candidate_id="cand-1", levels=[level], cost=cost, traffic=traffic)


def traffic(candidate_id: str, n: int, *, error_rate: float = 0.01, latency_ms: float = 300.0,
            seed: int = 0, route: str = TASK) -> list[InferenceLogged]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        failed = rng.random() < error_rate
        out.append(InferenceLogged(request_id=f"{candidate_id}-{seed}-{i}", route=route, candidate_id=candidate_id,
                                   prompt="p", response="" if failed else "r", status="error" if failed else "ok",
                                   latency_ms=0.0 if failed else rng.gauss(latency_ms, 30.0)))
    return out
