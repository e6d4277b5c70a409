"""One configuration search from a `config_search.requested` payload to its
`config_search.completed` payload, with real engines. The service and `challenger search`
both call `run_config_search`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from schemas.candidate import CandidateSpec
from schemas.events.prompts import ConfigSearchCompleted, ConfigSearchRequested, ConfigVariantResult
from schemas.task import DatasetItem, TaskSpec
from services.prompt_optimizer.adapters.config_report import write_config_report
from services.prompt_optimizer.domain.budget import BudgetMeter
from services.prompt_optimizer.domain.config_search import ConfigOutcome, search_configs
from services.prompt_optimizer.domain.configs import ConfigVariant, derive
from services.prompt_optimizer.domain.halving import Arm, Obs
from services.prompt_optimizer.domain.recommend import Summary
from shared.engines import EngineClient, client_for
from shared.processing import postprocess
from shared.scoring.metrics import answer_key, score
from shared.scoring.prompting import build_request


class EngineMeasure:
    """One call of a variant: its endpoint, decoding and post-processing; scored by the task metric."""

    def __init__(self, base: CandidateSpec, task: TaskSpec) -> None:
        self.base, self.task = base, task
        self._clients: dict[tuple[str, str], EngineClient] = {}

    def _client(self, v: ConfigVariant) -> EngineClient:
        url = v.endpoint.url or str(self.base.endpoint)
        key = (url, v.endpoint.model or self.base.model)
        if key not in self._clients:
            self._clients[key] = client_for(self.base.engine, url, key[1], api_key_env=self.base.api_key_env)
        return self._clients[key]

    async def __call__(self, v: ConfigVariant, item: DatasetItem, repeat: int) -> Obs:
        seed = (v.decoding.seed or 0) + repeat if repeat else None
        gen = await self._client(v).generate(build_request(self.task, item, v.decoding, seed=seed))
        out = postprocess(v.post.steps, gen.text)
        t = self.task
        return Obs(score(t.metric, out, item.expected, t.metric_args), answer_key(t.metric, out, t.metric_args),
                   gen.latency_ms, gen.input_tokens, gen.output_tokens)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()


def variant_result(s: Summary, outcome: ConfigOutcome, req: ConfigSearchRequested) -> ConfigVariantResult:
    """One evaluated variant for the completed event: its full derived spec and its figures."""
    v = s.arm.variant
    spec = req.candidate if v.is_default else derive(req.candidate, v, req.candidate_id, req.run_id)
    return ConfigVariantResult(
        variant=v.id, label=v.label(), params=v.params(), spec=spec, n=s.n, rung=max(0, s.arm.rung),
        accuracy=round(s.accuracy, 4), ci_low=round(s.ci_low, 4), ci_high=round(s.ci_high, 4),
        stability=None if s.stability is None else round(s.stability, 4), p95_ms=round(s.p95_ms, 1),
        cost=round(s.cost, 6), finalist=s.finalist, frontier=s in outcome.frontier,
        recommended=s is outcome.recommendation.chosen)


def to_event(req: ConfigSearchRequested, outcome: ConfigOutcome, report: Path) -> ConfigSearchCompleted:
    variants = [variant_result(s, outcome, req) for s in outcome.summaries]
    chosen = next(v for v in variants if v.recommended)
    spent = ", ".join(f"{k}={v}" for k, v in outcome.spent.as_dict().items())
    return ConfigSearchCompleted(
        run_id=req.run_id, candidate_id=req.candidate_id, recommended=None if chosen.is_default else chosen.spec,
        reason=f"{outcome.recommendation.reason} Cost in {outcome.cost_unit}. "
               f"Search stopped: {outcome.halving.stopped}; spent {spent} "
               f"of {outcome.halving.schedule.calls} planned evaluation calls.",
        variants=variants, recommended_variant=chosen.variant, cost_unit=outcome.cost_unit,
        spent=outcome.spent.as_dict(), report_path=str(report))


async def run_config_search(req: ConfigSearchRequested, items: Sequence[DatasetItem], report_dir: Path,
                            on_rung: Callable[[int, list[Arm]], None] = lambda _r, _a: None) -> ConfigSearchCompleted:
    measure = EngineMeasure(req.candidate, req.task_spec)
    try:
        outcome = await search_configs(req.candidate, req.space, items, measure,
                                       BudgetMeter(req.budget, time.monotonic), on_rung=on_rung)
    finally:
        await measure.aclose()
    done = to_event(req, outcome, report_dir / "index.html")
    await asyncio.to_thread(write_config_report, outcome, done.variants,
                            f"Configuration search {req.run_id}: {req.candidate.name} on {req.task_spec.name}",
                            report_dir)
    return done
