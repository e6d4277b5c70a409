"""From scored answers to the `evaluation.completed` scorecard. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from schemas.events.evaluations import (
    EvaluationCompleted,
    EvaluationRequested,
    RequestTokens,
    SecuritySummary,
    TokensSpent,
)
from schemas.task import DatasetItem
from services.evaluator.domain.accuracy import compare_dataset, holm_adjust, overall_verdict
from services.evaluator.domain.redteam import success_rates
from services.evaluator.domain.results import ItemResult, select
from services.evaluator.domain.stability import stability_summary
from shared.scoring.metrics import is_binary

# above this share of failed calls an endpoint is "failing", not "sometimes wrong"
MAX_ERROR_RATE = 0.5


def failing_endpoint(results: Sequence[ItemResult]) -> str | None:
    """A reason when a role's calls mostly failed, else None."""
    for role in ("candidate", "champion"):
        mine = [r for r in results if r.role == role]
        errors = [r.error for r in mine if r.error]
        if mine and len(errors) / len(mine) > MAX_ERROR_RATE:
            return f"{role} endpoint failed {len(errors)} of {len(mine)} calls; first error: {errors[0]}"
    return None


def _security(attacks: Sequence[DatasetItem], results: Sequence[ItemResult]) -> SecuritySummary | None:
    mine = select(list(results), "security", "candidate")
    if not mine:
        return None
    by_id = {a.id: a for a in attacks}
    items = [by_id[r.item_id] for r in mine]
    succeeded = [bool(r.attack_succeeded) for r in mine]
    overall, by_cat = success_rates(items, succeeded)
    return SecuritySummary(attacks=len(mine), attack_success_rate=overall, by_category=by_cat,
                           successful_attacks=[r.item_id for r in mine if r.attack_succeeded])


def _e2e(req: EvaluationRequested, results: Sequence[ItemResult]) -> bool | None:
    mine = select(list(results), "e2e", "candidate")
    if not mine:
        return None
    floor = float(req.task_spec.metric_args.get("e2e_min_score", 0.0))
    answered = all(r.error is None and r.output.strip() for r in mine)
    mean = sum(r.score or 0.0 for r in mine) / len(mine)
    return answered and mean >= floor


def _tokens(results: Sequence[ItemResult]) -> TokensSpent:
    spent = {f"{role}_{side}": sum(getattr(r, f"{side}_tokens") for r in results if r.role == role)
             for role in ("candidate", "champion") for side in ("input", "output")}
    spent["judge_input"] = sum(r.judge_input_tokens for r in results)
    spent["judge_output"] = sum(r.judge_output_tokens for r in results)
    return TokensSpent(**spent)


def _request_tokens(results: Sequence[ItemResult]) -> RequestTokens | None:
    """Tokens per call on the dataset items the server counted (answered calls with usage)."""
    counted = [r for r in results if r.kind == "accuracy" and r.role == "candidate" and r.error is None
               and r.input_tokens > 0]
    if not counted:
        return None
    n = len(counted)
    return RequestTokens(requests=n, input_tokens=sum(r.input_tokens for r in counted) / n,
                         output_tokens=sum(r.output_tokens for r in counted) / n)


def build_completed(req: EvaluationRequested, datasets: Mapping[str, Sequence[DatasetItem]],
                    attacks: Sequence[DatasetItem], results: Sequence[ItemResult], *,
                    n_boot: int = 10_000) -> EvaluationCompleted:
    metric, args = req.task_spec.metric, req.task_spec.metric_args
    binary = is_binary(metric) or metric == "judge"
    rows = list(results)
    comparisons = [compare_dataset(name, metric, select(rows, "accuracy", "candidate", name),
                                   select(rows, "accuracy", "champion", name) if req.champion else None,
                                   binary=binary, n_boot=n_boot)
                   for name in datasets if "accuracy" in req.kinds]
    comparisons = holm_adjust(comparisons)
    repeats = select(rows, "stability", "candidate")
    return EvaluationCompleted(
        evaluation_id=req.evaluation_id, candidate_id=req.candidate_id, champion_id=req.champion_id, task=req.task,
        stage=req.stage, accuracy=comparisons, verdict=overall_verdict(comparisons),
        stability=stability_summary(metric, args, repeats, req.stability_repeats, req.candidate.decoding.seed)
        if repeats else None,
        security=_security(attacks, rows), e2e_passed=_e2e(req, rows), tokens=_tokens(rows),
        request_tokens=_request_tokens(rows))
