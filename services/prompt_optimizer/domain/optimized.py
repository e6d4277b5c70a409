"""The `prompt.optimized` payload of an optimization outcome: the verdict, the figures, the
Pareto set, and the derived candidate's spec when the new prompt is accepted."""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

from schemas.candidate import CandidateSpec
from schemas.events.prompts import PromptOptimizationRequested, PromptOptimized
from services.prompt_optimizer.domain.optimize import Outcome
from services.prompt_optimizer.domain.search import SearchConfig
from services.prompt_optimizer.domain.trials import Trial


def search_config(req: PromptOptimizationRequested) -> SearchConfig:
    return SearchConfig(strategy=req.strategy, max_rounds=req.max_rounds, per_round=req.candidates_per_round,
                        shots=req.shots, seed=req.seed)


def derived_spec(parent: CandidateSpec, candidate_id: str, run_id: str) -> CandidateSpec:
    suffix = re.sub(r"[^A-Za-z0-9]", "", run_id)[:12] or "run"
    return parent.model_copy(update={
        "name": f"{parent.name[:100]}-po-{suffix}", "parent_id": candidate_id, "prompt_version": None,
        "tags": {**parent.tags, "derived_by": "prompt_optimizer", "prompt_optimization_run": run_id}})


def _pareto_row(t: Trial) -> dict[str, float | int | str]:
    return {"variant": t.variant.id, "origin": t.variant.origin, "round": t.variant.round,
            "validation_score": round(t.mean, 4), "prompt_tokens": round(t.input_tokens, 1),
            "latency_ms": round(t.latency_ms, 1)}


def to_event(req: PromptOptimizationRequested, outcome: Outcome, report: Path,
             style: str | None = None) -> PromptOptimized:
    c = outcome.decision.comparison
    base = outcome.baseline_test or outcome.search.baseline
    best = outcome.best_test or outcome.best
    accepted = outcome.promoted
    return PromptOptimized(
        run_id=req.run_id, candidate_id=req.candidate_id, accepted=accepted, reason=outcome.decision.reason,
        baseline_score=base.mean, best_score=best.mean, p_value=c.p_value if c else None,
        prompt_template=outcome.best.template if accepted else None,
        prompt_style=(style or req.task_spec.prompt_style) if accepted else None,
        derived_spec=derived_spec(req.candidate, req.candidate_id, req.run_id) if accepted else None,
        spent=outcome.spent.as_dict(), report_path=str(report),
        comparison=asdict(c) if c else None,
        splits=outcome.splits.record(), seed=req.seed, pareto=[_pareto_row(t) for t in outcome.pareto],
        stopped=outcome.search.stopped)
