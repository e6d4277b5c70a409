import pytest
import typer

from services.gateway.entrypoints.cli import build_update, parse_target


def test_target_specs_parse_with_optional_weight():
    t = parse_target("cand-1=http://127.0.0.1:8301=smollm2=0.25")
    assert (t.candidate_id, t.url, t.model, t.weight) == ("cand-1", "http://127.0.0.1:8301", "smollm2", 0.25)
    assert parse_target("c=http://h:1=m").weight == 1.0


@pytest.mark.parametrize("spec", ["c=http://h", "c==m", "c=http://h:1=m=heavy"])
def test_bad_target_specs_are_refused_with_the_expected_shape(spec):
    with pytest.raises(typer.BadParameter, match="candidate=url=model|number"):
        parse_target(spec)


def test_update_carries_the_whole_table_and_a_revision():
    u = build_update("bot", ["a=http://a:1=m=9", "b=http://b:1=m=1"], ["a=http://a:1=m"], [], "x-user-id", 30,
                     False, 7)
    assert u.revision == 7 and u.table.route == "bot" and [t.weight for t in u.table.targets] == [9, 1]
    assert u.table.fallbacks[0].candidate_id == "a" and u.table.cache_ttl_s == 30
    assert build_update("bot", ["a=http://a:1=m"], [], [], None, None, False, None).revision > 0
