"""The `config_search.completed` payload of a configuration search: every evaluated variant
with its full derived spec and figures, and the recommendation."""

from __future__ import annotations

from pathlib import Path

from schemas.events.prompts import ConfigSearchCompleted, ConfigSearchRequested, ConfigVariantResult
from services.prompt_optimizer.domain.config_search import ConfigOutcome
from services.prompt_optimizer.domain.configs import derive
from services.prompt_optimizer.domain.recommend import Summary


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
