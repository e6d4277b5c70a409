"""The pipeline driver: given a run and an event, what the deployer asks for next.

Pure: every function returns the new run plus the ordered outputs (commands, facts and
route tables) for the handler to store and publish together. Stage moves are REQUESTS to
the registry (the single writer of stages), each checked first against shared.pipeline so
the driver never asks for an illegal move (IllegalTransition says why).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.candidate import CandidateSpec
from schemas.envelope import EventData
from schemas.events.deployments import (
    CanaryStepChanged,
    DeploymentChanged,
    FallbackActivated,
    RouteTable,
    RouteTarget,
)
from schemas.events.evaluations import EvalKind, EvaluationCompleted, EvaluationRequested
from schemas.events.loadtests import LoadtestCompleted, LoadtestRequested, Slo
from schemas.events.models import (
    ModelApproved,
    ModelStageChanged,
    ModelSubmitted,
    PolicyApplied,
    StageChangeRequested,
)
from schemas.events.prompts import Budget, PromptOptimizationRequested, PromptOptimized
from services.deployer.domain import canary as ca
from services.deployer.domain import routes
from services.deployer.domain import traffic_profile as tp
from services.deployer.domain.policy import (
    Decision,
    OptimizationRule,
    Policy,
    WorkloadRule,
    decide_dev,
    decide_dev_evaluation,
    decide_staging,
)
from services.deployer.domain.run import Phase, Run
from shared.pipeline import TRANSITIONS, Stage, check_transition

ACTOR = "deployer"
Output = EventData | RouteTable


@dataclass(frozen=True)
class Env:
    policy: Policy
    gateway_url: str
    gateway_key_env: str | None = "CHALLENGER_GATEWAY_API_KEY"  # env var the evaluator reads to call the gateway


@dataclass
class Result:
    run: Run
    out: list[Output] = field(default_factory=list)

    def request(self, to: Stage, reason: str, policy: PolicyApplied | None = None) -> Result:
        """Ask the registry for `to`; raises IllegalTransition when it is not legal from here.
        `policy`: what the gate behind this move judged with, recorded with the move."""
        check_transition(self.run.expected, to)
        self.out.append(StageChangeRequested(candidate_id=self.run.candidate_id, to_stage=to, actor=ACTOR,
                                             reason=reason[:2000], policy=policy))
        self.run = self.run.model_copy(update={"expected": to}).noted(ACTOR, f"request {to}", reason)
        return self

    def emit(self, *items: Output) -> Result:
        self.out.extend(items)
        return self

    def phase(self, phase: Phase) -> Result:
        self.run = self.run.model_copy(update={"phase": phase})
        return self


# the policy dimensions each gate judges, recorded with its decision
DEV_EVALUATION_GATE = ("security", "stability", "accuracy")
DEV_GATE = ("cost", "latency", "accuracy")
STAGING_GATE = ("staging",)
CANARY_GATE = ("canary",)


def judged(env: Env, run: Run, gate: tuple[str, ...]) -> PolicyApplied:
    return env.policy.applied(run.task, gate)


def ids(candidate_id: str) -> dict[str, str]:
    """Deterministic ids of the work a run requests, so a redelivered event repeats, not duplicates."""
    return {k: f"{candidate_id}:{k}" for k in ("dev-eval", "loadtest", "prompt-opt", "staging-eval")}


# ---- dev ------------------------------------------------------------------------------

def on_submitted(ev: ModelSubmitted, correlation_id: str, workload: WorkloadRule | None = None) -> Result:
    run = Run(candidate_id=ev.candidate_id, task=ev.spec.task, correlation_id=correlation_id, spec=ev.spec,
              task_spec=ev.task_spec, champion_id=ev.champion_id, champion_spec=ev.champion_spec,
              champion_task_spec=ev.champion_task_spec,
              optimized=ev.spec.parent_id is not None)  # a derived candidate gets no second optimization round
    res = Result(run.noted(ev.submitted_by, "submitted"))
    if ev.task_spec is None:
        return reject(res, "no task spec (datasets) came with the submission; nothing to evaluate against")
    return res.request(Stage.evaluating, "submitted; running the dev evaluation").emit(
        _evaluation(run, ids(run.candidate_id)["dev-eval"], ["accuracy", "stability", "security"],
                    workload=workload or WorkloadRule())).phase(Phase.dev_eval)


def on_evaluation_completed(run: Run, ev: EvaluationCompleted, env: Env,
                            logged: tp.LoggedTraffic | None = None) -> Result:
    """`logged`: the production traffic logged on the task's route, for its traffic profile."""
    key = {v: k for k, v in ids(run.candidate_id).items()}.get(ev.evaluation_id)
    res = Result(run)
    if key == "dev-eval" and run.phase == Phase.dev_eval:
        return _after_dev_eval(res, ev, env, logged)
    if key == "staging-eval" and run.phase == Phase.staging:
        return _after_staging(res, ev, env)
    res.run = run.noted(ACTOR, "ignored evaluation", f"{ev.evaluation_id} does not match phase {run.phase}")
    return res


def _after_dev_eval(res: Result, ev: EvaluationCompleted, env: Env, logged: tp.LoggedTraffic | None) -> Result:
    policy = env.policy.for_task(res.run.task)
    decision = decide_dev_evaluation(policy, ev, res.run.has_champion)
    res.run = res.run.model_copy(update={"evaluation": ev})
    applied = judged(env, res.run, DEV_EVALUATION_GATE)
    if decision.outcome == "fail":
        return reject(res, decision.summary, applied)
    latency, work = policy.latency, policy.workload
    traffic = tp.resolve(routes.prod_route(res.run.task), res.run.task_spec, logged, ev.request_tokens, policy.cost,
                         work)
    request = LoadtestRequested(loadtest_id=ids(res.run.candidate_id)["loadtest"], candidate_id=res.run.candidate_id,
                                champion_id=res.run.champion_id, candidate=res.run.spec,
                                champion=res.run.champion_spec, levels=work.loadtest_levels,
                                protocol=_loadtest_protocol(res.run),
                                requests_per_level=work.loadtest_requests_per_level,
                                input_tokens=max(1, round(traffic.input_tokens)),
                                output_tokens=max(1, round(traffic.output_tokens)),
                                monthly_requests=traffic.requests_per_month, traffic_source=traffic.source,
                                slo=Slo(ttft_ms=latency.p95_ttft_ms, e2e_ms=latency.p95_e2e_ms),
                                task_spec=res.run.task_spec, champion_task_spec=res.run.champion_task_spec)
    return res.request(Stage.load_testing, decision.summary, applied).emit(request).phase(Phase.loadtest)


def _loadtest_protocol(run: Run) -> str | None:
    """Load-test the way the candidate is called: completion prompts go to the completion API."""
    if run.task_spec is None or run.task_spec.prompt_style != "completion":
        return None
    return "sglang" if run.spec.engine == "sglang" else "openai-completions"


def on_loadtest_completed(run: Run, ev: LoadtestCompleted, env: Env) -> Result:
    res = Result(run.model_copy(update={"loadtest": ev}))
    if run.phase != Phase.loadtest or ev.loadtest_id != ids(run.candidate_id)["loadtest"] or run.evaluation is None:
        res.run = run.noted(ACTOR, "ignored load test", f"{ev.loadtest_id} in phase {run.phase}")
        return res
    decision = decide_dev(env.policy.for_task(run.task), run.evaluation, ev, run.has_champion,
                          optimized=run.optimized)
    return _apply_dev_decision(res, decision, env)


def _apply_dev_decision(res: Result, decision: Decision, env: Env) -> Result:
    applied = judged(env, res.run, DEV_GATE)
    if decision.outcome == "pass":
        return go_staging(res.request(Stage.dev_passed, decision.summary, applied), env)
    if decision.outcome == "optimize":
        return _optimize(res, decision, env.policy.for_task(res.run.task).optimization, applied)
    return reject(res, decision.summary, applied)


def _optimize(res: Result, decision: Decision, rule: OptimizationRule, applied: PolicyApplied) -> Result:
    run = res.run
    assert run.task_spec is not None
    optimizer = run.champion_spec if rule.optimizer == "champion" else None
    strategy = rule.strategy if optimizer is not None else "fewshot"  # instruction search needs a model
    budget = Budget(max_optimizer_calls=rule.max_optimizer_calls if optimizer else 0,
                    max_eval_calls=rule.max_eval_calls, max_tokens=rule.max_tokens, max_seconds=rule.max_seconds)
    request = PromptOptimizationRequested(run_id=ids(run.candidate_id)["prompt-opt"], candidate_id=run.candidate_id,
                                          task=run.task, candidate=run.spec, task_spec=run.task_spec,
                                          optimizer_candidate_id=run.champion_id if optimizer else None,
                                          optimizer=optimizer, strategy=strategy, budget=budget)
    return res.request(Stage.prompt_optimizing, decision.summary, applied).emit(request).phase(Phase.optimizing)


def on_prompt_optimized(run: Run, ev: PromptOptimized) -> Result:
    """An accepted optimization retires this candidate: the registry submits the derived one
    (new prompt version, parent = this candidate), which runs its own pipeline."""
    res = Result(run)
    if run.phase != Phase.optimizing or ev.run_id != ids(run.candidate_id)["prompt-opt"]:
        res.run = run.noted(ACTOR, "ignored prompt optimization", f"{ev.run_id} in phase {run.phase}")
        return res
    if not ev.accepted or ev.derived_spec is None:
        return reject(res, f"prompt optimization did not help: {ev.reason}")
    reason = (f"superseded by its optimized prompt ({ev.baseline_score:.3f} -> {ev.best_score:.3f}: {ev.reason}); "
              "the derived candidate runs its own pipeline")
    return res.request(Stage.retired, reason).phase(Phase.done)


# ---- staging --------------------------------------------------------------------------

def go_staging(res: Result, env: Env) -> Result:
    run = res.run
    route = routes.staging_route(run.task)
    # the gateway applies the candidate's prompt and steps (its route's serving profile): the
    # evaluator sends the raw inputs, as production clients do, and scores what comes back
    staged = CandidateSpec.model_validate({**run.spec.model_dump(mode="json"), "engine": "openai", "launch": None,
                                           "endpoint": env.gateway_url, "model": route, "preprocess": [],
                                           "postprocess": [], "api_key_env": env.gateway_key_env})
    policy = env.policy.for_task(run.task)
    evaluation = _evaluation(run, ids(run.candidate_id)["staging-eval"], ["e2e", "security"], stage="staging",
                             candidate=staged, target_url=env.gateway_url, through_gateway=True,
                             workload=policy.workload).model_copy(update={"garak": policy.staging.garak.scan()})
    deployed = DeploymentChanged(candidate_id=run.candidate_id, route=route, environment="staging", status="deploying",
                                 detail=f"sole target of {route}")
    return res.request(Stage.staging, f"staged on route {route}").emit(
        routes.sole(route, _candidate_target(run)), deployed, evaluation).phase(Phase.staging)


def _after_staging(res: Result, ev: EvaluationCompleted, env: Env) -> Result:
    decision = decide_staging(env.policy.for_task(res.run.task), ev)
    applied = judged(env, res.run, STAGING_GATE)
    if decision.outcome != "pass":
        return reject(res, decision.summary, applied)
    return res.request(Stage.awaiting_approval, decision.summary, applied).phase(Phase.awaiting_approval)


# ---- approval and canary --------------------------------------------------------------

def on_approved(run: Run, ev: ModelApproved, env: Env) -> Result:
    """The registry accepts an approval only while the candidate is awaiting_approval, and moves it
    to approved itself; the deployer follows with the canary. An approval seen in any other
    phase is noted and never applied later: it did not approve this run's evidence."""
    if run.phase != Phase.awaiting_approval:
        return Result(run.noted(ACTOR, "approval ignored", f"by {ev.approver} while the run is in phase {run.phase}"))
    res = Result(run.model_copy(update={"approved_by": ev.approver, "expected": Stage.approved})
                 .noted(ev.approver, "approved", ev.comment))
    return _start_canary(res, env)


def _start_canary(res: Result, env: Env) -> Result:
    run = res.run
    res.request(Stage.canary, f"approved by {run.approved_by}; starting the canary")
    res.run = res.run.model_copy(update={"canary_step": 0, "canary_step_start_n": 0, "champion_arm": {},
                                         "candidate_arm": {}})
    if not run.has_champion:
        return _promote(res.phase(Phase.canary), env, "no champion on this route: nothing to compare against")
    rule = env.policy.for_task(run.task).canary
    started = ca.StepAnalysis("advance", f"canary started at {rule.steps[0]:g}%", rule.steps[0])
    return _emit_step(_canary_route(res.phase(Phase.canary), rule.steps[0]), started)


def canary_tick(run: Run, env: Env) -> Result:
    """One periodic check of an active canary."""
    if run.phase == Phase.rolling_back:
        return _rollback_step(Result(run), run.last_analysis or "rolling back", judged(env, run, CANARY_GATE))
    rule = env.policy.for_task(run.task).canary
    champion, candidate = run.arms()
    analysis = ca.analyse_step(champion, candidate, rule=rule, step=run.canary_step,
                               step_start_n=run.canary_step_start_n)
    res = Result(run.model_copy(update={"last_analysis": f"{analysis.decision}: {analysis.reason}"}))
    if analysis.decision == "rollback":
        return rollback(res, env, analysis.reason, analysis)
    if analysis.decision == "promote":
        return _promote(_emit_step(res, analysis), env, analysis.reason)
    if analysis.decision == "advance":
        return _advance(res, analysis, env)
    return _publish_once(res, analysis)


def _advance(res: Result, analysis: ca.StepAnalysis, env: Env) -> Result:
    rule = env.policy.for_task(res.run.task).canary
    step = res.run.canary_step + 1
    res.run = res.run.model_copy(update={"canary_step": step,
                                         "canary_step_start_n": ca.requests_seen(res.run.arms()[1])})
    return _canary_route(_emit_step(res, analysis, weight=rule.steps[step]), rule.steps[step])


def _publish_once(res: Result, analysis: ca.StepAnalysis) -> Result:
    """Hold / inconclusive: publish when the decision at this step changes, not every tick."""
    if res.run.last_published == f"{analysis.decision}@{res.run.canary_step}":
        return res
    return _emit_step(res, analysis)


def _promote(res: Result, env: Env, reason: str) -> Result:
    run = res.run
    route = routes.prod_route(run.task)
    champion = _champion_target(run) if run.has_champion else None
    res.emit(routes.sole(route, _candidate_target(run), champion),
             DeploymentChanged(candidate_id=run.candidate_id, route=route, environment="prod", status="healthy",
                               detail="promoted: sole target"))
    return res.request(Stage.production, reason, judged(env, run, CANARY_GATE)).phase(Phase.done)


def rollback(res: Result, env: Env, reason: str, analysis: ca.StepAnalysis | None = None, *,
             immediate: bool = False) -> Result:
    rule = env.policy.for_task(res.run.task).canary
    weights = ca.rollback_weights(rule, max(res.run.canary_step, 0))
    errors = analysis is not None and any(m.metric == "error_rate" and m.verdict == "harm" for m in analysis.metrics)
    if immediate or errors:
        weights = [0.0]  # errors or a degradation hurt users now: no gradual way down
    res.run = res.run.model_copy(update={"rollback_weights": weights, "last_analysis": reason})
    step = analysis or ca.StepAnalysis("rollback", reason, rule.steps[max(res.run.canary_step, 0)])
    _emit_step(res, step)
    return _rollback_step(res.phase(Phase.rolling_back), reason, judged(env, res.run, CANARY_GATE))


def _rollback_step(res: Result, reason: str, policy: PolicyApplied | None = None) -> Result:
    weights = list(res.run.rollback_weights) or [0.0]
    weight, rest = weights[0], weights[1:]
    res.run = res.run.model_copy(update={"rollback_weights": rest})
    _canary_route(res, weight)
    if rest:
        return res
    route = routes.prod_route(res.run.task)
    res.emit(DeploymentChanged(candidate_id=res.run.candidate_id, route=route, environment="prod", status="stopped",
                               detail=f"rolled back: {reason}"[:2000]))
    if res.run.expected in (Stage.canary, Stage.production):
        res.request(Stage.rolled_back, reason, policy)
    return res.phase(Phase.done)


def _canary_route(res: Result, weight: float) -> Result:
    run = res.run
    route = routes.prod_route(run.task)
    candidate = _candidate_target(run)
    if not run.has_champion:
        return res.emit(routes.sole(route, candidate))
    champion = _champion_target(run)
    return res.emit(routes.canary(route, champion, candidate, weight))


def _candidate_target(run: Run) -> RouteTarget:
    return routes.target(run.candidate_id, run.spec, run.task_spec)


def _champion_target(run: Run) -> RouteTarget:
    assert run.champion_id is not None and run.champion_spec is not None
    return routes.target(run.champion_id, run.champion_spec, run.champion_task_spec)


def _emit_step(res: Result, analysis: ca.StepAnalysis, weight: float | None = None) -> Result:
    run = res.run
    res.run = run.model_copy(update={"last_published": f"{analysis.decision}@{run.canary_step}"}).noted(
        ACTOR, f"canary {analysis.decision} at {analysis.weight_pct:g}%", analysis.reason)
    return res.emit(CanaryStepChanged(candidate_id=run.candidate_id, route=routes.prod_route(run.task),
                                      weight_pct=analysis.weight_pct if weight is None else weight,
                                      decision=analysis.decision, reason=analysis.reason[:4000],
                                      analysis=analysis.figures()))


# ---- registry feedback and endings ----------------------------------------------------

def on_stage_changed(run: Run, ev: ModelStageChanged, env: Env) -> Result:
    """The registry applied a move (ours or an operator's); follow it with the routes."""
    operator = ev.actor != ACTOR
    to = Stage(ev.to_stage)
    res = Result(run.model_copy(update={"stage": to, "expected": _follow(run.expected, to) if operator
                                        else run.expected})
                 .noted(ev.actor, f"stage {ev.from_stage} -> {ev.to_stage}", ev.reason))
    if not operator or run.phase not in (Phase.canary, Phase.rolling_back, Phase.done):
        return res.phase(Phase.done) if ev.to_stage in (Stage.rejected, Stage.retired) else res
    if ev.to_stage == Stage.production and run.phase == Phase.canary:
        return _promote_route(res, f"promoted by {ev.actor}: {ev.reason}")
    if ev.to_stage == Stage.rolled_back and run.has_champion:
        res.run = res.run.model_copy(update={"rollback_weights": [0.0]})
        return _rollback_step(res, f"rolled back by {ev.actor}: {ev.reason}")
    return res


def _follow(expected: Stage, moved_to: Stage) -> Stage:
    """After someone else's move: our pending request still stands if it is legal from there."""
    return expected if expected == moved_to or expected in TRANSITIONS[moved_to] else moved_to


def _promote_route(res: Result, reason: str) -> Result:
    run = res.run
    champion = _champion_target(run) if run.has_champion else None
    res.emit(routes.sole(routes.prod_route(run.task), _candidate_target(run), champion),
             CanaryStepChanged(candidate_id=run.candidate_id, route=routes.prod_route(run.task), weight_pct=100,
                               decision="promote", reason=reason[:4000]))
    return res.phase(Phase.done)


def on_rejected(run: Run, to_stage: str, actor: str, reason: str) -> Result:
    """The registry refused a move. Ours: the run is blocked with the registry's reason."""
    noted = run.noted(actor, f"refused {to_stage}", reason)
    if actor != ACTOR:
        return Result(noted)
    return Result(noted.model_copy(update={"expected": run.stage, "phase": Phase.blocked}))


def abandon_staging(res: Result, reason: str) -> Result:
    """The staged target failed its health check: route nothing to it, reject the candidate."""
    staged = routes.staging_route(res.run.task)
    res.out = [o for o in res.out if not (isinstance(o, RouteTable) and o.route == staged)
               and not isinstance(o, EvaluationRequested | DeploymentChanged)]
    res.emit(DeploymentChanged(candidate_id=res.run.candidate_id, route=staged, environment="staging",
                               status="failed", detail=reason[:2000]))
    return reject(res, reason)


def abandon_canary(res: Result, reason: str) -> Result:
    """The candidate failed its health check as the canary began: no traffic moves to it."""
    res.out = [o for o in res.out if not isinstance(o, RouteTable | CanaryStepChanged | DeploymentChanged)]
    res.emit(DeploymentChanged(candidate_id=res.run.candidate_id, route=routes.prod_route(res.run.task),
                               environment="prod", status="failed", detail=reason[:2000]))
    return reject(res, reason)


def record_fallback(run: Run | None, fell: FallbackActivated) -> tuple[Run | None, StageChangeRequested]:
    """The gateway now serves the fallback in place of a degraded serving candidate: ask the
    registry to record it in ONE move (the degraded one rolled back with the degradation as the
    reason, its fallback production and champion again)."""
    request = StageChangeRequested(candidate_id=fell.candidate_id, to_stage=Stage.rolled_back, actor=ACTOR,
                                   reason=fell.reason[:2000], successor_id=fell.fallback_candidate_id)
    if run is None:  # an imported champion: no pipeline run of ours
        return None, request
    noted = run.model_copy(update={"expected": Stage.rolled_back}).noted(
        ACTOR, f"request rolled_back (fallback to {fell.fallback_candidate_id})", fell.reason)
    return noted, request


def reject(res: Result, reason: str, policy: PolicyApplied | None = None) -> Result:
    to = Stage.rolled_back if res.run.expected in (Stage.canary, Stage.production) else Stage.rejected
    return res.request(to, reason, policy).phase(Phase.done)


def _evaluation(run: Run, evaluation_id: str, kinds: list[EvalKind], *, workload: WorkloadRule, stage: str = "dev",
                candidate: CandidateSpec | None = None, target_url: str | None = None,
                through_gateway: bool = False) -> EvaluationRequested:
    assert run.task_spec is not None
    task = routes.through_gateway(run.task_spec) if through_gateway else run.task_spec
    return EvaluationRequested(evaluation_id=evaluation_id, candidate_id=run.candidate_id,
                               champion_id=run.champion_id, task=run.task, candidate=candidate or run.spec,
                               champion=run.champion_spec, task_spec=task, kinds=kinds,
                               stage=stage, target_url=target_url,  # type: ignore[arg-type]
                               max_items=workload.eval_max_items, concurrency=workload.eval_concurrency,
                               stability_repeats=workload.stability_repeats)
