"""The embedded broker restarted in the middle of an iteration, while the evaluator works on
the dev evaluation: the broker comes back with no topics, no events and no consumer-group
offsets. The registry's and the deployer's outboxes find that the log lost what it had
acknowledged and send it again (same ids, same order); every consumer reconnects and reads
the new log from its start; handlers dedupe what they had applied. The iteration reaches
production, and nothing is recorded twice.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from schemas.events.evaluations import EvaluationRequested
from schemas.events.models import ModelStageChanged, StageChangeRejected
from tests.faults.harness import EventLog, IterationDriver, running_stack
from tests.faults.sentiment_model import SentimentModel


def test_broker_restarted_mid_evaluation_and_the_iteration_completes_once(
        tmp_path: Path, model: SentimentModel) -> None:
    with running_stack(tmp_path / "home") as stack, EventLog(stack.bootstrap) as before:
        it = IterationDriver(stack, before, model)
        it.import_champion()

        # The dev evaluation is under way (its first answers given, the next ones held at the
        # model) when the broker restarts empty; then the model answers again.
        model.hold("base", after=10)
        challenger = it.submit_challenger()
        model.wait_for_requests("base", 11)
        [request] = before.of_type(EvaluationRequested, lambda d: d.candidate_id == challenger)
        stack.restart("broker")
        with EventLog(stack.bootstrap) as after:  # the new log, from its start
            model.release()
            it.events = after

            # The command the evaluator was working on is on the new log again, with its id.
            after.wait(lambda e: e.id == request.id, 120, "the evaluation request sent again")
            derived = it.derived_id()
            it.wait_stage(challenger, "retired")
            it.wait_stage(derived, "awaiting_approval")
            it.approve(derived)
            traffic = it.start_traffic()
            try:
                it.wait_stage(derived, "production")
            finally:
                it.stop_traffic()

            assert it.duplicates() == []  # one result row per evaluation / load test / run, one stage entry
            events = before.all() + after.all()
            assert [e for e in events if e.type == StageChangeRejected.event_type] == [], \
                "a stage move was asked for twice or out of order"
            moves: dict[tuple[str, str], set[str]] = {}
            for e in (e for e in events if e.type == ModelStageChanged.event_type):
                moves.setdefault((e.data.candidate_id, e.data.to_stage), set()).add(e.id)
            assert {k: ids for k, ids in moves.items() if len(ids) > 1} == {}, "one stage change published twice"
            assert {i: n for i, n in Counter(e.id for e in after.all()).items() if n > 1} == {}, \
                "an event sent again more than once"
            assert before.dead_letters == after.dead_letters == []
            assert stack.mismatches() == []  # the old champion is standby, the new one serves
            assert stack.healthy() == dict.fromkeys(stack.healthy(), True)
            assert traffic.sent > traffic.failed
