"""Which rows a partition lost, from what the broker's log holds now (no I/O)."""

from __future__ import annotations

from shared.outbox import Sent, replay_from

FIRST, LAST = Sent(seq=1, event_id="e1", offset=10), Sent(seq=5, event_id="e5", offset=14)


def test_a_log_that_still_holds_the_last_row_lost_nothing() -> None:
    assert replay_from(end=15, last=LAST, at_last="e5") is None


def test_the_end_offset_is_only_a_hint_what_the_log_holds_decides() -> None:
    assert replay_from(end=13, last=LAST, at_last="e5") is None  # Tansu under-reports after a batch


def test_a_log_cut_below_the_last_row_lost_the_rows_after_the_one_it_still_holds() -> None:
    assert replay_from(end=11, last=LAST, at_last=None, anchor=FIRST, at_anchor="e1") == 11


def test_a_topic_the_broker_no_longer_has_or_an_empty_log_lost_every_row() -> None:
    assert replay_from(end=None, last=LAST, at_last=None) == 0
    assert replay_from(end=0, last=LAST, at_last=None) == 0


def test_a_shorter_log_holding_none_of_our_rows_lost_every_row() -> None:
    assert replay_from(end=3, last=LAST, at_last=None, anchor=None) == 0
    assert replay_from(end=12, last=LAST, at_last=None, anchor=FIRST, at_anchor="someone-else") == 0


def test_a_new_log_that_grew_past_our_offsets_holds_other_events_there_so_every_row_is_lost() -> None:
    assert replay_from(end=40, last=LAST, at_last="someone-else") == 0
    assert replay_from(end=40, last=LAST, at_last="") == 0


def test_a_record_the_log_has_but_the_probe_did_not_read_is_not_taken_for_lost() -> None:
    assert replay_from(end=20, last=LAST, at_last=None) is None
    assert replay_from(end=12, last=LAST, at_last=None, anchor=FIRST, at_anchor=None) is None
