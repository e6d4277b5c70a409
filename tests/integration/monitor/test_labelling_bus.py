"""The monitor service's side of a labelling job through the real broker, with the real SmolLM2
server as the task's teacher and paraphraser: labelling.requested in, samples.labelled out, each
label recording the teacher, and paraphrases of the labelled samples among the variants."""

from __future__ import annotations

import pytest
from aiokafka import ConsumerRecord

from schemas import new_event
from schemas.candidate import CandidateSpec, Decoding
from schemas.events import degradations
from schemas.events.degradations import LabelledSample, LabellingRequested, SamplesLabelled
from schemas.task import TaskSpec
from services.monitor.config import MonitorConfig
from services.monitor.entrypoints.http import create_app
from shared.bus.codec import PoisonMessage, decode
from shared.bus.producer import EventProducer
from shared.settings import Settings
from tests.integration.bus.helpers import raw_records

pytestmark = [pytest.mark.models, pytest.mark.timeout(300)]
TASK = TaskSpec(name="capitals", metric="contains", prompt_template="{input} Answer with the city name only.")


def smollm2(url: str) -> CandidateSpec:
    return CandidateSpec(name="teacher", model="smollm2", task="capitals", engine="llamacpp", endpoint=url,
                         decoding=Decoding(temperature=0.0, max_tokens=16))


async def test_a_teacher_labels_the_captured_samples_and_a_paraphraser_augments_them(
        broker: str, smollm2_url: str, uid: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(Settings(home=tmp_path, kafka_bootstrap=broker), MonitorConfig(routes=[]), group=f"mon-{uid}")
    samples = [LabelledSample(sample_id="1", prompt="What is the capital of France?", response="I can't help."),
               LabelledSample(sample_id="2", prompt="What is the capital of Japan?", response="Paris")]
    request = LabellingRequested(job_id=f"deg-{uid}", candidate_id=f"cand-{uid}", task_spec=TASK, samples=samples,
                                 teacher=smollm2(smollm2_url), paraphraser=smollm2(smollm2_url))

    def ours(r: ConsumerRecord) -> bool:
        try:
            data = decode(r.key, r.value, r.headers).data
        except PoisonMessage:
            return False
        return isinstance(data, SamplesLabelled) and data.job_id == request.job_id

    async with app.router.lifespan_context(app), EventProducer(broker) as producer:
        await producer.publish(new_event(request, source="test"))
        [record] = await raw_records(broker, degradations.TOPIC, ours, want=1, timeout=240)
    done = decode(record.key, record.value, record.headers).data

    assert isinstance(done, SamplesLabelled) and done.unlabelled == 0
    assert all(s.expected and s.labelled_by == "teacher@1 (smollm2)" for s in done.samples)
    assert {v.origin_id for v in done.variants} == {"1", "2"}
    assert any(v.method.startswith("paraphrase") for v in done.variants)
