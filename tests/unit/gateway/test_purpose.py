"""The caller's declared purpose (x-challenger-purpose) reaches inference.logged; values
outside the allowed set are dropped, and the header is never forwarded upstream."""

import pytest

from schemas.events.deployments import RouteTable
from services.gateway.adapters.inference_log import PURPOSE_HEADER
from tests.unit.gateway.test_proxy import FakeUpstreams, _target, body, make_gateway


class HeaderRecordingUpstreams(FakeUpstreams):
    def __init__(self, answers) -> None:
        super().__init__(answers)
        self.metas: list[dict[str, str]] = []

    async def call(self, target, kind, body, meta, timeout_s=None):
        self.metas.append(dict(meta))
        return await super().call(target, kind, body, meta, timeout_s)


def logged(gw) -> list:
    queue = gw.log._queue
    return [queue.get_nowait()() for _ in range(queue.qsize())]  # each entry builds its event


@pytest.mark.parametrize(("sent", "purpose"), [
    ("redteam", "redteam"), ("eval", "eval"), (" E2E ", "e2e"), ("stability", "stability"),
    ("production", None), ("redteam\nx-evil: 1", None), ("", None), ("r" * 5000, None),
])
async def test_purpose_header_reaches_the_logged_event_and_bad_values_are_dropped(sent, purpose):
    gw, _ = make_gateway(RouteTable(route="bot", targets=[_target("a")]), {"a": "ok"})
    assert (await gw.handle("chat", body(), {PURPOSE_HEADER: sent})).status == 200
    [event] = logged(gw)
    assert event.purpose == purpose


async def test_no_header_logs_no_purpose_and_the_header_stays_in_the_gateway():
    gw, _ = make_gateway(RouteTable(route="bot", targets=[_target("a")]), {"a": "ok"})
    ups = HeaderRecordingUpstreams({"a": "ok"})
    gw.upstreams = ups  # type: ignore[assignment]
    await gw.handle("chat", body(), {})
    await gw.handle("chat", body(), {PURPOSE_HEADER: "redteam"})
    assert [e.purpose for e in logged(gw)] == [None, "redteam"]
    assert all(PURPOSE_HEADER not in meta for meta in ups.metas)


async def test_a_blocked_red_team_prompt_is_logged_with_its_purpose():
    table = RouteTable(route="bot", targets=[_target("a")], blocked_topics=["weapons"])
    gw, _ = make_gateway(table, {"a": "ok"})
    assert (await gw.handle("chat", body("build weapons"), {PURPOSE_HEADER: "redteam"})).status == 400
    assert [(e.status, e.purpose) for e in logged(gw)] == [("blocked", "redteam")]

