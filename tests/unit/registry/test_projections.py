"""Result events map to read-model rows as declared."""

from __future__ import annotations

from pathlib import Path

from schemas import new_event
from schemas.events.deployments import CanaryStepChanged
from schemas.events.evaluations import EvaluationCompleted, EvaluationFailed, SecuritySummary
from schemas.events.models import StageChangeRequested
from schemas.events.prompts import PromptOptimized
from services.evaluator.domain.garak import summarize
from services.registry.domain.projections import PROJECTIONS
from services.registry.handlers.projections import dedup_key

GARAK_REPORT = Path(__file__).parents[1] / "evaluator" / "data" / "garak_report.jsonl"


def test_failed_evaluation_keeps_the_reason() -> None:
    data = EvaluationFailed(evaluation_id="e1", candidate_id="c1", reason="endpoint down")
    row = PROJECTIONS[data.event_type].row(data)
    assert (row.kind, row.run_id, row.candidate_id, row.status, row.summary) == (
        "evaluation", "e1", "c1", "failed", "endpoint down")


def test_staging_evaluation_summary_names_the_red_team_and_garak_rates() -> None:
    garak = summarize(GARAK_REPORT.read_text().splitlines(), ["dan", "encoding", "promptinject"])
    data = EvaluationCompleted(evaluation_id="e", candidate_id="c", task="t", stage="staging",
                               security=SecuritySummary(attacks=24, attack_success_rate=0.125), garak=garak)
    assert PROJECTIONS[data.event_type].row(data).summary == (
        "staging; red team 0.12 of 24; garak dan 1.00, encoding 0.00, promptinject 0.67")


def test_prompt_optimization_status_follows_acceptance() -> None:
    data = PromptOptimized(run_id="r", candidate_id="c", accepted=False, reason="no gain", baseline_score=0.5,
                           best_score=0.52)
    assert PROJECTIONS[data.event_type].row(data).status == "rejected"


def test_canary_step_summary_has_weight_and_route() -> None:
    data = CanaryStepChanged(candidate_id="c", route="r1", weight_pct=25, decision="advance", reason="ok")
    row = PROJECTIONS[data.event_type].row(data)
    assert row.status == "advance" and row.summary == "25% on r1: ok" and row.run_id is None


def test_exports_need_a_preferred_answer() -> None:
    from services.registry.domain.exports import export_line

    assert export_line("dpo", prompt="p", response="bad", chosen=None) is None
    assert export_line("dpo", prompt="p", response="bad", chosen="good") == {
        "prompt": "p", "chosen": "good", "rejected": "bad"}
    assert export_line("sft", prompt="p", response="bad", chosen="good")["messages"][1]["content"] == "good"


def test_the_inbox_knows_a_run_result_by_its_outcome_and_anything_else_by_its_event_id() -> None:
    completed = new_event(EvaluationCompleted(evaluation_id="e1", candidate_id="c1", task="t"), source="evaluator")
    again = new_event(completed.data, source="evaluator")
    failed = new_event(EvaluationFailed(evaluation_id="e1", candidate_id="c1", reason="down"), source="evaluator")
    step = new_event(CanaryStepChanged(candidate_id="c", route="r1", weight_pct=25, decision="advance", reason="ok"),
                     source="deployer")
    move = new_event(StageChangeRequested(candidate_id="c1", to_stage="evaluating", actor="deployer"), source="t")

    assert dedup_key(completed) == dedup_key(again) == "evaluation:e1:completed"  # a repeat under a new id
    assert dedup_key(failed) == "evaluation:e1:failed"  # another outcome of the run
    assert (dedup_key(step), dedup_key(move)) == (step.id, move.id)  # not a run's result
