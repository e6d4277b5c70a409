from services.monitor.domain.features import Record
from services.monitor.domain.windows import WindowKey, WindowPolicy, Windows, reference_route


def rec(i: int, route: str = "qa", cand: str = "c1", at: float | None = None) -> Record:
    at = float(i) if at is None else at
    return Record(f"r{i}", route, cand, None, at, "p", "r", "ok", {"feedback": float("nan")})


def test_count_windows_per_route_and_target() -> None:
    w = Windows(WindowPolicy(size=3))
    closed = [c for i in range(7) for c in w.add(rec(i, cand="a" if i % 2 else "b"))]
    assert [(c.key.candidate_id, len(c.records), c.seq) for c in closed] == [("b", 3, 1), ("a", 3, 1)]
    assert closed[0].window_id.endswith("-00001")


def test_time_windows_close_on_the_event_clock() -> None:
    w = Windows(WindowPolicy(size=1000, seconds=10))
    assert w.add(rec(1, at=0.0)) == [] and w.add(rec(2, at=9.0)) == []
    [closed] = w.add(rec(3, at=10.5))
    assert [r.request_id for r in closed.records] == ["r1", "r2"] and w.tick(30.0)[0].records[0].request_id == "r3"


def test_feedback_before_or_after_its_record() -> None:
    w = Windows(WindowPolicy(size=2))
    assert w.set_feature("qa", "r1", "feedback", -1.0) is False  # early: kept until r1 arrives
    w.add(rec(1))
    assert w.set_feature("qa", "r1", "feedback", -0.5) is True
    [closed] = w.add(rec(2))
    assert closed.records[0].features["feedback"] == -0.5


def test_staging_route_convention() -> None:
    assert reference_route("qa-staging") == "qa" and reference_route("qa") is None


def test_watched_routes() -> None:
    from services.monitor.domain.windows import monitored

    assert monitored("qa", None) and monitored("qa-staging", frozenset({"qa"}))
    assert not monitored("chat", frozenset({"qa"})) and not monitored("chat-staging", frozenset({"qa"}))


def test_the_open_window_skips_a_request_delivered_again() -> None:
    """The monitor's one dedup of records: its open window holds the request at that event time."""
    w = Windows(WindowPolicy(size=3))
    assert w.add(rec(1, at=5.0)) == []
    assert w.add(rec(1, at=5.0)) is None  # the same event again
    assert w.add(rec(1, at=6.0)) == []  # the id reused by a later request: it replaces the held one
    assert w.add(rec(1, cand="c2", at=5.0)) == []  # another window
    assert w.open_sizes() == {WindowKey("qa", "c1"): 1, WindowKey("qa", "c2"): 1}
    assert [r.at for r in w.open_records()] == [6.0, 5.0]
