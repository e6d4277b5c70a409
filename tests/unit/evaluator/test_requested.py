"""The evaluator's consumer as bootstrap wires it (the file inbox keyed by evaluation id, the
stored reply): an evaluation runs once; a repeated request, whatever its event id, is answered
again with the same reply and no model call; a failure is a reply too."""

from __future__ import annotations

from pathlib import Path

from schemas import new_event
from schemas.candidate import CandidateSpec
from schemas.events.evaluations import EvaluationCompleted, EvaluationFailed, EvaluationRequested
from schemas.task import DatasetItem, DatasetRef, TaskSpec
from services.evaluator.adapters.engines import Engines
from services.evaluator.bootstrap import EvaluatorAdapters, EvaluatorService, bootstrap
from services.evaluator.handlers.requested import handle_requested
from shared import blobs
from shared.bus.consumer import EventConsumer
from shared.engines.base import Generation, GenerationRequest
from shared.kit.service import _consumer
from shared.settings import Settings
from tests.unit.kit.test_replies import FakeBus


class Model:
    """Answers "ok" to everything; counts the calls."""

    base_url, model = "http://model", "m"

    def __init__(self) -> None:
        self.calls = 0

    async def lists_model(self) -> bool:
        return True

    async def health(self) -> bool:
        return True

    async def generate(self, request: GenerationRequest) -> Generation:
        self.calls += 1
        return Generation("ok", input_tokens=3, output_tokens=1)

    async def aclose(self) -> None: ...


def request(home: Path, *, sha256: str | None = None) -> EvaluationRequested:
    uri, digest = blobs.put(home, b"".join(DatasetItem(id=f"i{i}", input="q", expected="ok").model_dump_json()
                                           .encode() + b"\n" for i in range(4)))
    ref = DatasetRef(dataset_id="d", name="golden", uri=uri, sha256=sha256 or digest, items=4)
    spec = CandidateSpec(name="c", model="m", task="t", engine="openai", endpoint="http://model/v1")
    return EvaluationRequested(evaluation_id="ev-1", candidate_id="c-1", task="t", candidate=spec, kinds=["accuracy"],
                               task_spec=TaskSpec(name="t", metric="exact_match", datasets=[ref]))


def service(home: Path, model: Model) -> tuple[EvaluatorService, FakeBus]:
    svc = bootstrap(Settings(home=home), EvaluatorAdapters(engines=lambda _req: Engines({"candidate": model})))  # type: ignore[dict-item]
    bus = svc.deps.producer = FakeBus()  # type: ignore[assignment]
    return svc, bus


def consumer(svc: EvaluatorService) -> EventConsumer:
    [table] = svc.consumes()
    return _consumer(svc, table)


async def test_an_evaluation_runs_once_and_a_repeated_request_gets_the_same_reply(tmp_path: Path) -> None:
    model = Model()
    svc, bus = service(tmp_path, model)
    first, repeat = new_event(request(tmp_path), source="t"), new_event(request(tmp_path), source="t")
    c = consumer(svc)
    for event in (first, repeat):
        assert await c._handle(event) is None  # noqa: SLF001
    assert model.calls == 4 and c.deduplicated == 1
    assert [e.type for e in bus.sent] == [EvaluationCompleted.event_type] * 2
    assert bus.sent[1].data == bus.sent[0].data and bus.sent[1].causationid == repeat.id


async def test_a_reply_saved_before_a_crash_is_published_without_evaluating_again(tmp_path: Path) -> None:
    model = Model()
    svc, bus = service(tmp_path, model)
    req = request(tmp_path)
    await handle_requested(new_event(req, source="t"), svc.deps)  # published; the inbox never marked it
    await handle_requested(new_event(req, source="t"), svc.deps)
    assert model.calls == 4 and [e.data for e in bus.sent][0] == bus.sent[1].data


async def test_a_failure_is_the_reply_a_repeat_gets(tmp_path: Path) -> None:
    model = Model()
    svc, bus = service(tmp_path, model)
    c = consumer(svc)
    for _ in range(2):
        assert await c._handle(new_event(request(tmp_path, sha256="0" * 64), source="t")) is None  # noqa: SLF001
    assert [e.type for e in bus.sent] == [EvaluationFailed.event_type] * 2
    assert "sha256" in bus.sent[0].data.reason and bus.sent[1].data == bus.sent[0].data
    assert model.calls == 0 and c.deduplicated == 1
