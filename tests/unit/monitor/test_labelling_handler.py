"""labelling.requested -> samples.labelled: teacher labels (recording who), the fallback's answers
as preferred ones, augmentations of the labelled samples only. Engines are fakes here; the
integration test runs the real SmolLM2 server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from schemas import new_event
from schemas.candidate import CandidateSpec
from schemas.events.degradations import LabelledSample, LabellingRequested, SamplesLabelled
from schemas.task import TaskSpec
from services.monitor.handlers import labelling
from shared.engines import EngineError, Generation, GenerationRequest
from tests.unit.monitor.fakes import Published

TASK = TaskSpec(name="sentiment", metric="choice", metric_args={"labels": ["positive", "negative"]},
                prompt_template="Review: {input}\nSentiment:")


def spec(name: str) -> CandidateSpec:
    return CandidateSpec(name=name, model=name, task="sentiment", engine="openai", endpoint="http://127.0.0.1:9/v1")


class FakeEngine:
    def __init__(self, reply: Callable[[str], str]) -> None:
        self.reply, self.prompts = reply, []  # type: ignore[var-annotated]

    async def generate(self, req: GenerationRequest) -> Generation:
        text = req.messages[-1]["content"] if req.messages else req.prompt or ""
        self.prompts.append(text)
        answer = self.reply(text)
        if answer == "!":
            raise EngineError("connect", "down")
        return Generation(text=answer)

    async def __aenter__(self) -> FakeEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


SAMPLES = [LabelledSample(sample_id="1", prompt="I loved this film", response="I cannot help with that."),
           LabelledSample(sample_id="2", prompt="???", response="error"),
           LabelledSample(sample_id="3", prompt="Awful", response="x", expected="negative", labelled_by="alice")]


@pytest.fixture
def engines(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeEngine]:
    made = {"teacher": FakeEngine(lambda p: "!" if "???" in p else "It is positive."),
            "champ": FakeEngine(lambda p: "Positive!"),
            "para": FakeEngine(lambda p: "Put differently: " + p.split("\n\n")[-1])}
    monkeypatch.setattr(labelling, "client_for_spec", lambda s: made[s.name])
    return made


async def test_the_teacher_labels_what_has_no_label_and_each_item_records_it(engines: dict[str, FakeEngine]) -> None:
    published = Published()
    req = LabellingRequested(job_id="deg-1", candidate_id="cand-a", task_spec=TASK, samples=SAMPLES,
                             teacher=spec("teacher"), fallback=spec("champ"), paraphraser=spec("para"))
    request = new_event(req, source="test")

    await labelling.LabellingHandler(publish=published).handle(request)

    [done] = published
    assert isinstance(done.data, SamplesLabelled) and done.causationid == request.id
    by_id = {s.sample_id: s for s in done.data.samples}
    assert (by_id["1"].expected, by_id["1"].labelled_by) == ("positive", "teacher@1 (teacher)")
    assert by_id["2"].expected is None and done.data.unlabelled == 1
    assert (by_id["3"].expected, by_id["3"].labelled_by) == ("negative", "alice")  # a person's label stays
    assert "Review: I loved this film" in engines["teacher"].prompts[0]  # rendered as the task renders it
    assert len(engines["teacher"].prompts) == 2
    assert (by_id["1"].chosen, by_id["1"].chosen_by) == ("Positive!", "fallback champ@1 (champ)")
    origins = {(v.origin_id, v.method.rstrip("0123456789")) for v in done.data.variants}
    assert origins == {("1", "distractor"), ("1", "paraphrase"), ("3", "distractor"), ("3", "paraphrase")}


async def test_without_a_paraphraser_only_the_model_free_augmentations_run(engines: dict[str, FakeEngine]) -> None:
    published = Published()
    req = LabellingRequested(job_id="deg-2", candidate_id="cand-a", task_spec=TASK, samples=SAMPLES[2:])

    await labelling.LabellingHandler(publish=published).handle(new_event(req, source="test"))

    [done] = published
    assert [v.method for v in done.data.variants] == ["distractor"]
    assert engines["para"].prompts == [] and engines["teacher"].prompts == []
