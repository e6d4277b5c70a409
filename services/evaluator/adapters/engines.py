"""The engine clients one evaluation calls: the candidate's, the champion's and the judge's,
each a pooled session (see engine_http), closed together when the evaluation ends."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.candidate import CandidateSpec
from schemas.events.evaluations import EvaluationRequested
from services.evaluator.adapters.engine_http import PooledEngine
from shared.engines import EngineClient, client_for, client_for_spec


@dataclass
class Engines:
    clients: dict[str, EngineClient | PooledEngine]
    judge: EngineClient | PooledEngine | None = None
    owned: list[EngineClient | PooledEngine] = field(default_factory=list)

    async def aclose(self) -> None:
        for c in self.owned:
            await c.aclose()


def pooled_for_spec(spec: CandidateSpec, *, base_url: str | None = None, timeout_s: float = 60.0) -> PooledEngine:
    return PooledEngine(client_for_spec(spec, base_url=base_url, timeout_s=timeout_s), api_key_env=spec.api_key_env,
                        timeout_s=timeout_s)


def engines_for(req: EvaluationRequested, *, timeout_s: float = 60.0) -> Engines:
    clients = {"candidate": pooled_for_spec(req.candidate, base_url=req.target_url, timeout_s=timeout_s)}
    if req.champion is not None:
        clients["champion"] = pooled_for_spec(req.champion, timeout_s=timeout_s)
    args = req.task_spec.metric_args
    judge = None
    if req.task_spec.metric == "judge" and args.get("judge_url") and args.get("judge_model"):
        judge = PooledEngine(client_for(str(args.get("judge_engine", "openai")), str(args["judge_url"]),
                                        str(args["judge_model"]), timeout_s=timeout_s), timeout_s=timeout_s)
    return Engines(clients, judge, [*clients.values(), *([judge] if judge else [])])
