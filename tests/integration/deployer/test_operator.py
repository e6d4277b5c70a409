"""Operator moves go on the bus as stage_change.requested with the operator as actor, and
the outcome (here: no registry listening) is reported and audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.events import models
from services.deployer.adapters import operator
from tests.integration.bus.helpers import first_event as first

pytestmark = pytest.mark.timeout(90)


async def test_rollback_request_is_published_and_audited(broker: str, uid: str, tmp_path: Path):
    cid = f"cand-{uid}"
    outcome = await operator.request_move(broker, cid, "rolled_back", actor="operator:ann", reason="pager",
                                          wait_s=2.0)
    assert outcome.status == "no_answer" and "registry" in outcome.detail
    ev, _ = await first(broker, models.TOPIC, f"op-{uid}",
                        lambda e: e.type == models.StageChangeRequested.event_type and e.data.candidate_id == cid)
    assert ev.id == outcome.request_id and ev.data.actor == "operator:ann" and ev.data.to_stage == "rolled_back"
    line = json.loads(operator.audit(tmp_path, "rollback", outcome).read_text().splitlines()[-1])
    assert line["command"] == "rollback" and line["candidate_id"] == cid and line["status"] == "no_answer"
