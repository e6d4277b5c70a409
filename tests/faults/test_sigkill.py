"""Every service SIGKILLed in the middle of ONE iteration, at the moment it does its work, and
started again: the iteration still reaches production, and the registry's read models hold
nothing twice. Then the commands are delivered a second time (as a deployer killed between
relaying its outbox and marking it would) and still nothing is duplicated.

Kills, in pipeline order:
- evaluator: with answers of the dev evaluation still in flight;
- registry: right after the dev evaluation's result, before it applies the next stage move;
- loadtester: with load-test requests in flight;
- prompt_optimizer: with its search's model calls in flight;
- deployer: during the canary's first step, with the candidate's live traffic held;
- gateway, monitor: during the canary, under live traffic;
- registry, again: as the canary decides to promote (the champion's move to standby and the
  candidate's to production are one transaction, applied once after the restart).
At the end `challenger doctor` finds one production candidate, the one the gateway serves.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from schemas import Envelope
from schemas.catalogue import topic
from schemas.events.deployments import CanaryStepChanged
from schemas.events.evaluations import EvaluationCompleted, EvaluationRequested
from schemas.events.loadtests import LoadtestCompleted, LoadtestRequested
from schemas.events.prompts import PromptOptimizationRequested, PromptOptimized
from services.registry.bootstrap import GROUP as REGISTRY_GROUP
from shared.bus.log_probe import LogProbe
from tests.faults.harness import EventLog, Stack, champion_serving, publish
from tests.faults.sentiment_model import SentimentModel


def _crash_while_calling(stack: Stack, model: SentimentModel, part: str, model_name: str, held_from: int) -> None:
    """Wait until `part` has calls to `model_name` in flight (held at the model), kill it, let the
    held calls go, start it again."""
    model.wait_for_requests(model_name, held_from + 1)
    stack.kill(part)
    model.release()
    stack.restart(part)


def test_every_service_killed_mid_iteration_and_the_iteration_completes_once(
        tmp_path: Path, model: SentimentModel) -> None:
    with champion_serving(tmp_path / "home", model) as it:
        stack, log = it.stack, it.events

        # evaluator: 30 answers of the dev evaluation go through, the next ones hang; SIGKILL.
        model.hold("base", after=30)
        challenger = it.submit_challenger()
        _crash_while_calling(stack, model, "evaluator", "base", 30)

        # registry: killed as the dev result arrives; the load test is asked for meanwhile.
        log.wait_for(EvaluationCompleted, lambda d: d.candidate_id == challenger)
        held = model.count("base") + 2
        model.hold("base", after=held)
        stack.crash("registry")

        # loadtester: two load-test requests answered, the rest in flight; SIGKILL.
        _crash_while_calling(stack, model, "loadtester", "base", held)
        log.wait_for(LoadtestCompleted, lambda d: d.candidate_id == challenger)

        # prompt optimizer: its few-shot search is calling the challenger; SIGKILL.
        held = model.count("base") + 5
        model.hold("base", after=held)
        log.wait_for(PromptOptimizationRequested, lambda d: d.candidate_id == challenger)
        _crash_while_calling(stack, model, "prompt_optimizer", "base", held)

        derived = it.derived_id()
        it.wait_stage(challenger, "retired")
        it.wait_stage(derived, "awaiting_approval", timeout_s=400)
        # deployer: the canary's first step is live and its traffic reaches the candidate, whose
        # answers are held, so the step cannot have decided yet; SIGKILL. Then the gateway (under
        # that traffic) and the monitor (with windows open).
        held = model.count("base") + 3
        model.hold("base", after=held)
        it.approve(derived)
        traffic = it.start_traffic()
        try:
            log.wait_for(CanaryStepChanged, lambda d: d.candidate_id == derived)
            _crash_while_calling(stack, model, "deployer", "base", held)
            for part in ("gateway", "monitor"):
                stack.crash(part)
            # registry: killed as the canary decides to promote, with the promotion's moves (the
            # champion to standby, the candidate to production) arriving or in flight
            log.wait_for(CanaryStepChanged, lambda d: d.candidate_id == derived and d.decision == "promote", 400)
            stack.crash("registry")
            it.wait_stage(derived, "production", timeout_s=400)
        finally:
            it.stop_traffic()

        _redeliver_commands(stack, log, challenger, derived)

        assert it.problems() == []
        run = httpx.get(f"http://127.0.0.1:{stack.port('deployer')}/api/v1/runs/{derived}", timeout=10).json()
        assert run["phase"] == "done" and run["stage"] == "production"
        assert traffic.sent > traffic.failed
        assert [part for part, _pid in stack.kills] == ["evaluator", "registry", "loadtester", "prompt_optimizer",
                                                        "deployer", "gateway", "monitor", "registry"]
        assert it.scorecard(it.champion_id)["candidate"]["stage"] == "standby"


def _redeliver_commands(stack: Stack, log: EventLog, challenger: str, derived: str) -> None:
    """Send every work command of the iteration again, with its original id (an outbox relay
    that was killed after the broker acknowledged but before it marked the rows does exactly
    this): the services answer from their stored results, and the registry must not count
    those answers twice."""
    ours = (challenger, derived)
    sent = [*log.of_type(EvaluationRequested, lambda d: d.candidate_id in ours),
            *log.of_type(LoadtestRequested, lambda d: d.candidate_id in ours),
            *log.of_type(PromptOptimizationRequested, lambda d: d.candidate_id in ours)]
    commands = list({e.id: e for e in sent}.values())  # a relay may already have sent one twice
    before = {e.id for e in log.all()}
    asyncio.run(publish(stack.bootstrap, *commands))
    answers = {EvaluationRequested.event_type: EvaluationCompleted, LoadtestRequested.event_type: LoadtestCompleted,
               PromptOptimizationRequested.event_type: PromptOptimized}
    replies = []
    for command in commands:
        run_id = getattr(command.data, "evaluation_id", None) or getattr(command.data, "loadtest_id", None) \
            or command.data.run_id
        reply = log.wait(lambda e, c=command, r=run_id: e.id not in before and e.type == answers[c.type].event_type
                         and r in (getattr(e.data, "evaluation_id", None), getattr(e.data, "loadtest_id", None),
                                   getattr(e.data, "run_id", None)), 120, f"a second answer to {run_id}")
        replies.append(reply)
    _wait_consumed(stack, replies)


def _wait_consumed(stack: Stack, replies: list[Envelope[Any]], timeout_s: float = 120) -> None:
    """Until the registry's consumer group has committed past everything on the replies' topics
    (it commits after handling; a repeat its inbox skipped leaves no row to look for)."""
    asyncio.run(_consumed(stack.bootstrap, sorted({r.topic for r in replies}), timeout_s))


async def _consumed(bootstrap: str, topics: list[str], timeout_s: float) -> None:
    parts = [TopicPartition(name, p) for name in topics for p in range(topic(name).partitions)]
    async with LogProbe(bootstrap) as probe:
        ends = {tp: end for tp, end in (await probe.end_offsets(parts)).items() if end}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            committed = await admin.list_consumer_group_offsets(REGISTRY_GROUP, partitions=list(ends))
            behind = {f"{tp.topic}:{tp.partition}": end for tp, end in ends.items() if committed[tp].offset < end}
            if not behind:
                return
            assert time.monotonic() < deadline, f"the registry has not consumed up to {behind}"
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
