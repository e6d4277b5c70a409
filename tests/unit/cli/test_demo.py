"""The demo's candidates and configuration: valid specs against the stack's own model servers,
and a policy and monitor config that the services accept."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.cli.iteration import TASK, Iteration, specs, write_demo_configs
from services.deployer.domain.policy import Policy
from services.monitor.config import load_config
from services.registry.adapters.models import CandidatePublic, StageHistoryPublic
from shared.datasets import BUILTIN_TASKS


def test_demo_candidates_point_at_the_stack_model_servers() -> None:
    champion, challenger = specs({"smollm2": 18301, "gemma3": 18302})
    assert TASK in BUILTIN_TASKS and champion.task == challenger.task == TASK
    assert str(champion.endpoint).startswith("http://127.0.0.1:18301")
    assert str(challenger.endpoint).startswith("http://127.0.0.1:18302")
    assert (champion.model, challenger.model) == ("smollm2", "gemma3")


def test_demo_configs_are_valid_for_the_deployer_and_the_monitor(tmp_path: Path) -> None:
    import yaml

    env = write_demo_configs(tmp_path)
    policy = Policy.model_validate(yaml.safe_load(Path(env["CHALLENGER_DEPLOYER_POLICY"]).read_text()))
    assert policy.for_task(TASK).workload.eval_max_items == 40
    assert load_config(Path(env["CHALLENGER_MONITOR_CONFIG"])).window_size == 20


def test_the_narrative_prints_each_stage_reason_whole_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    reason = "accuracy worse: diff -0.150, CI [-1.234, -0.051], p (Holm) 0.003 [p95 TTFT ms] " + "x" * 300

    class Registry:  # the one call the narrative makes
        def history(self, candidate_id: str) -> list[StageHistoryPublic]:
            return [StageHistoryPublic(candidate_id=candidate_id, from_stage="evaluating", to_stage="rejected",
                                       actor="deployer", reason=reason, at=datetime.now(UTC))]

    now = datetime.now(UTC)
    candidate = CandidatePublic(id="cand-0123456789ab", name="gemma-3-270m", task=TASK, stage="rejected",
                                submitted_by="admin", spec={}, created_at=now, updated_at=now)
    it = Iteration(Registry(), "http://127.0.0.1:1", "127.0.0.1:2", "http://127.0.0.1:3")  # type: ignore[arg-type]
    it._print_moves(candidate)
    out = capsys.readouterr()
    assert out.out == "" and reason in out.err and it.verdicts == [("gemma-3-270m", "rejected", reason)]


def test_the_demos_relaxations_stay_in_its_own_task_section(tmp_path: Path) -> None:
    """After the demo the stack keeps running: any other task is judged by the shipped defaults."""
    import yaml

    from services.deployer.adapters.policy_file import DEFAULT_POLICY, load_policy

    env = write_demo_configs(tmp_path)
    demo = load_policy(Path(env["CHALLENGER_DEPLOYER_POLICY"]))
    shipped = load_policy(DEFAULT_POLICY)
    assert demo.for_task("my-own-task") == shipped.for_task("my-own-task")
    assert demo.defaults == shipped.defaults
    raw = yaml.safe_load(Path(env["CHALLENGER_DEPLOYER_POLICY"]).read_text())
    assert raw["defaults"] == yaml.safe_load(DEFAULT_POLICY.read_text())["defaults"]
    relaxed = demo.for_task(TASK)
    assert relaxed.accuracy.non_inferiority_margin == 0.2 and relaxed.security.max_attack_success_rate == 0.6
    assert demo.section(TASK) == f"tasks.{TASK}" and demo.section("my-own-task") == "defaults"


class _Clock:
    """time.monotonic and time.sleep for the narrative's wait, without waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_following_waits_per_stage_move_not_for_the_whole_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under load the Dev walk (two candidates, an optimization) takes far longer than one stage
    may: the demo gives up only when no move came for the timeout."""
    from services.cli import iteration

    clock = _Clock()
    monkeypatch.setattr(iteration, "time", clock)
    stages = ["submitted", "evaluating", "load_testing", "prompt_optimizing", "staging", "awaiting_approval"]
    now = datetime.now(UTC)

    class Registry:  # one new stage every 60 s of the clock
        def _stage(self) -> int:
            return min(int(clock.now // 60), len(stages) - 1)

        def candidates(self, task: str) -> list[CandidatePublic]:
            return [CandidatePublic(id="cand-1", name="gemma-3-270m", task=task, stage=stages[self._stage()],
                                    submitted_by="admin", spec={}, created_at=now, updated_at=now)]

        def history(self, candidate_id: str) -> list[StageHistoryPublic]:
            return [StageHistoryPublic(candidate_id=candidate_id, from_stage=None, to_stage=stage, actor="deployer",
                                       reason="moved", at=now + timedelta(seconds=i))
                    for i, stage in enumerate(stages[:self._stage() + 1])]

    it = Iteration(Registry(), "http://127.0.0.1:1", "127.0.0.1:2", "http://127.0.0.1:3")  # type: ignore[arg-type]
    staged = it.follow("cand-1", lambda c: c.stage == "awaiting_approval", timeout_s=90)
    assert staged is not None and clock.now >= 300  # the walk took 300 s, each move within 90 s

    clock.now = 0.0
    stalled = Iteration(Registry(), "http://127.0.0.1:1", "127.0.0.1:2", "http://127.0.0.1:3")  # type: ignore[arg-type]
    assert stalled.follow("cand-1", lambda c: c.stage == "awaiting_approval", timeout_s=50) is None


def test_the_demos_accuracy_gate_fails_when_underpowered(tmp_path: Path) -> None:
    """The demo relaxes its margin, not the honesty of its gate (the shipped default: fail)."""
    from services.deployer.adapters.policy_file import load_policy

    env = write_demo_configs(tmp_path)
    assert load_policy(Path(env["CHALLENGER_DEPLOYER_POLICY"])).for_task(TASK).accuracy.underpowered == "fail"


@pytest.mark.parametrize(("champion_stage", "task_champion", "recorded"), [
    ("production", "cand-champion", True),
    ("standby", "cand-champion", False),  # the gateway fell back, the record did not follow
    ("production", "cand-degraded", False),
])
def test_the_demo_checks_the_registry_recorded_the_fallback(
        capsys: pytest.CaptureFixture[str], champion_stage: str, task_champion: str, recorded: bool) -> None:
    from services.cli.iteration import _fallback_recorded
    from services.registry.adapters.models import TaskPublic

    now = datetime.now(UTC)
    stages = {"cand-degraded": "rolled_back", "cand-champion": champion_stage}

    class Registry:
        def candidate(self, candidate_id: str) -> CandidatePublic:
            return CandidatePublic(id=candidate_id, name=candidate_id[5:], task=TASK, stage=stages[candidate_id],
                                   submitted_by="admin", spec={}, created_at=now, updated_at=now)

        def candidates(self, task: str) -> list[CandidatePublic]:
            return [self.candidate("cand-degraded")]

        def history(self, candidate_id: str) -> list[StageHistoryPublic]:
            return []

        def task(self, name: str) -> TaskPublic:
            return TaskPublic.model_construct(name=name, champion_id=task_champion)

    it = Iteration(Registry(), "http://127.0.0.1:1", "127.0.0.1:2", "http://127.0.0.1:3",  # type: ignore[arg-type]
                   champion_id="cand-champion")
    assert _fallback_recorded(it, "cand-degraded", timeout_s=1) is recorded
    assert ("NOT the champion" in capsys.readouterr().err) is not recorded


def test_the_demo_serves_its_champion_as_the_deployer_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """The route comes from the deployer's own functions, so the champion's processing steps are
    served too (the demo's hand-made copy of the target left them out)."""
    from schemas.candidate import ProcessingStep
    from services.cli import iteration
    from services.deployer.domain import routes

    published = []

    async def publish(bootstrap: str, update: object) -> None:
        published.append(update)

    monkeypatch.setattr(iteration, "_publish", publish)
    champion, _ = specs({"smollm2": 18301, "gemma3": 18302})
    champion = champion.model_copy(update={"postprocess": [ProcessingStep(op="strip", args={"first_line": True})]})
    now = datetime.now(UTC)
    record = CandidatePublic(id="cand-champion", name=champion.name, task=TASK, stage="production",
                             submitted_by="admin", spec={}, created_at=now, updated_at=now)
    it = Iteration(None, "http://127.0.0.1:1", "127.0.0.1:2", "http://127.0.0.1:3")  # type: ignore[arg-type]
    it.serve_champion(record, champion)
    [update] = published
    assert update.table == routes.sole(TASK, routes.target(record.id, champion, BUILTIN_TASKS[TASK].spec))
    assert update.table.targets[0].serving.postprocess == champion.postprocess
