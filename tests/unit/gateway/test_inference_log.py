"""A stuck broker never blocks the request path: the queue fills, further events are dropped."""

import asyncio

from schemas.events.inference import InferenceLogged
from services.gateway.adapters.inference_log import InferenceLog


class StuckProducer:
    def __init__(self) -> None:
        self.attempts = 0

    async def publish_nowait(self, envelope):
        self.attempts += 1
        await asyncio.Event().wait()  # a broker that never answers


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list = []

    async def publish_nowait(self, envelope):
        self.sent.append(envelope)
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut


def event(i: int) -> InferenceLogged:
    return InferenceLogged(request_id=f"r{i}", route="bot", candidate_id="a", prompt="p", response="r")


async def test_offer_never_waits_on_a_stuck_broker():
    log = InferenceLog(maxsize=5)
    producer = StuckProducer()
    log.start(producer)  # type: ignore[arg-type]
    accepted = [log.offer(lambda i=i: event(i)) for i in range(20)]
    await asyncio.sleep(0.05)
    assert accepted.count(True) == 5 and log.dropped == 15 and producer.attempts == 1
    log._task.cancel()  # type: ignore[union-attr]


async def test_events_are_drained_in_order_as_cloudevents():
    log = InferenceLog(maxsize=100)
    producer = RecordingProducer()
    log.start(producer)  # type: ignore[arg-type]
    for i in range(10):
        log.offer(lambda i=i: event(i))
    await log.stop()
    assert [e.data.request_id for e in producer.sent] == [f"r{i}" for i in range(10)]
    assert producer.sent[0].type == "io.challenger.inference.logged" and producer.sent[0].subject == "r0"


def test_sampling_rate_bounds():
    assert InferenceLog.sampled(1.0) and not InferenceLog.sampled(0.0)
    hits = sum(InferenceLog.sampled(0.1) for _ in range(10_000))
    assert 800 < hits < 1200
