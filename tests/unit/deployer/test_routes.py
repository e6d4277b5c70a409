"""Route tables: canary weights and the fallback move on a degradation."""

from __future__ import annotations

from services.deployer.domain import routes
from tests.unit.deployer.factories import spec


def test_canary_splits_weight_and_keeps_the_champion_as_fallback():
    champion, candidate = routes.target("champ", spec("champion")), routes.target("cand", spec())
    table = routes.canary("support", champion, candidate, 25)
    assert {t.candidate_id: t.weight for t in table.targets} == {"champ": 75.0, "cand": 25.0}
    assert [t.candidate_id for t in table.fallbacks] == ["champ"]
    assert [t.candidate_id for t in routes.canary("support", champion, candidate, 0).targets] == ["champ"]


def test_fallback_replaces_the_failing_target_with_its_fallback_and_keeps_settings():
    champion, candidate = routes.target("champ", spec("champion")), routes.target("cand", spec())
    table = routes.canary("support", champion, candidate, 50).model_copy(update={"require_json": True})
    new, chosen = routes.fallback_table(table, "cand")
    assert chosen.candidate_id == "champ" and [t.candidate_id for t in new.targets] == ["champ"]
    assert new.require_json and new.fallbacks == []


def test_no_fallback_left_is_reported_as_none():
    only = routes.sole("support", routes.target("champ", spec("champion")))
    assert routes.fallback_table(only, "champ") is None
