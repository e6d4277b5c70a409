"""labelling.requested -> samples.labelled: the model work of a labelling job (the registry owns
the job). The teacher labels what has no label yet (silver labels, each recording
`labelled_by`), the fallback answers what has no preferred answer, and the labelled samples
are augmented (distractors; paraphrases when the task names a paraphraser)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from schemas import Envelope, new_event
from schemas.candidate import CandidateSpec
from schemas.events.degradations import LabelledSample, LabellingRequested, SamplesLabelled, SampleVariant
from schemas.task import DatasetItem, TaskSpec
from services.monitor.domain.augment import Sample
from services.monitor.domain.event_ids import stable
from services.monitor.handlers.samples import augment_samples
from shared.engines import EngineClient, EngineError, client_for_spec
from shared.processing import ProcessingError, postprocess
from shared.scoring.labels import label_of, teacher_name
from shared.scoring.prompting import PromptError, build_request

if TYPE_CHECKING:
    from services.monitor.handlers.monitor import Publish

log = logging.getLogger(__name__)
SOURCE = "challenger/monitor"


async def ask(client: EngineClient, spec: CandidateSpec, task: TaskSpec, s: LabelledSample,
              read: Callable[[str], str | None]) -> str | None:
    """`read` of `spec`'s answer to the sample's prompt (rendered as the task renders it); None when it fails."""
    item = DatasetItem(id=s.sample_id, input=s.prompt)
    try:
        gen = await client.generate(build_request(task, item, spec.decoding))
        return read(gen.text)
    except (EngineError, PromptError, ProcessingError) as exc:
        log.warning("%s could not answer sample %s: %s", spec.name, s.sample_id, exc)
        return None


async def label(samples: Sequence[LabelledSample], teacher: CandidateSpec, client: EngineClient,
                task: TaskSpec) -> list[LabelledSample]:
    """Silver labels for the samples that have none; each records the teacher as `labelled_by`."""
    out = []
    for s in samples:
        found = None if s.expected is not None else await ask(client, teacher, task, s,
                                                              lambda raw: label_of(task, teacher, raw))
        out.append(s.model_copy(update={"expected": found, "labelled_by": teacher_name(teacher)}) if found else s)
    return out


async def answer(samples: Sequence[LabelledSample], fallback: CandidateSpec, client: EngineClient,
                 task: TaskSpec) -> list[LabelledSample]:
    """The fallback's answers as the preferred (`chosen`) ones, where none is given and it differs from the failure."""
    out = []
    for s in samples:
        chosen = None if s.chosen else await ask(client, fallback, task, s,
                                                 lambda raw: postprocess(fallback.postprocess, raw).strip() or None)
        keep = chosen is not None and chosen != s.response.strip()
        out.append(s.model_copy(update={"chosen": chosen, "chosen_by": f"fallback {teacher_name(fallback)}"})
                   if keep else s)
    return out


async def variants(samples: Sequence[LabelledSample], methods: Sequence[str],
                   paraphraser: EngineClient | None) -> list[SampleVariant]:
    originals = [Sample(id=s.sample_id, prompt=s.prompt, response=s.response)
                 for s in samples if s.expected is not None]
    kept, _removed = await augment_samples(originals, [m for m in methods if m != "paraphrase" or paraphraser],
                                           paraphraser)
    return [SampleVariant(origin_id=v.origin_id or "", method=v.method or "", prompt=v.prompt) for v in kept]


class LabellingHandler:
    def __init__(self, *, publish: Publish) -> None:
        self.publish = publish

    async def handle(self, envelope: Envelope[Any]) -> None:
        req = envelope.data
        if not isinstance(req, LabellingRequested):
            return
        async with AsyncExitStack() as stack:
            teacher, fallback = await _open(stack, req.teacher), await _open(stack, req.fallback)
            paraphraser = await _open(stack, req.paraphraser)
            samples = list(req.samples)
            if req.teacher and teacher:
                samples = await label(samples, req.teacher, teacher, req.task_spec)
            if req.fallback and fallback:
                samples = await answer(samples, req.fallback, fallback, req.task_spec)
            made = await variants(samples, req.methods, paraphraser)
        unlabelled = sum(1 for s in samples if s.expected is None)
        done = SamplesLabelled(job_id=req.job_id, candidate_id=req.candidate_id, samples=samples, variants=made,
                               unlabelled=unlabelled)
        log.info("labelling job %s: %d labelled, %d unlabelled, %d variant(s)", req.job_id,
                 len(samples) - unlabelled, unlabelled, len(made))
        await self.publish(stable(new_event(done, source=SOURCE, cause=envelope), f"labelled/{envelope.id}"))


async def _open(stack: AsyncExitStack, spec: CandidateSpec | None) -> EngineClient | None:
    if spec is None:
        return None
    return await stack.enter_async_context(client_for_spec(spec))
