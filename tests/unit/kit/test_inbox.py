"""The inbox: an event is handled once per consumer, and its mark commits with the handler's
writes (or neither does)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlmodel import Field, Session, SQLModel, select

from shared.db import make_engine
from shared.kit.inbox import FileInbox, HandledEvent, SqlInbox, create_inbox_table, transaction


class Effect(SQLModel, table=True):
    __tablename__ = "kit_test_effect"
    id: int | None = Field(default=None, primary_key=True)
    note: str


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'inbox.db'}")
    create_inbox_table(engine)
    SQLModel.metadata.create_all(engine, tables=[Effect.__table__])  # type: ignore[attr-defined]
    return engine


def effects(engine) -> list[str]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return [e.note for e in s.exec(select(Effect)).all()]


def handle(inbox: SqlInbox, key: str, note: str, *, fail: bool = False) -> bool:
    with inbox.once("group", key, "t") as fresh:
        if fresh:
            with transaction(inbox.engine) as s:
                s.add(Effect(note=note))
            if fail:
                raise RuntimeError("handler failed after writing")
        return fresh


def test_a_redelivered_event_is_skipped(engine) -> None:  # type: ignore[no-untyped-def]
    inbox = SqlInbox(engine)
    assert handle(inbox, "e1", "first") is True
    assert handle(inbox, "e1", "again") is False
    assert effects(engine) == ["first"]
    assert inbox.handled("group", "e1") and not inbox.handled("other-group", "e1")


def test_a_failed_handler_leaves_neither_mark_nor_writes(engine) -> None:  # type: ignore[no-untyped-def]
    inbox = SqlInbox(engine)
    with pytest.raises(RuntimeError):
        handle(inbox, "e1", "half", fail=True)
    assert effects(engine) == [] and not inbox.handled("group", "e1")
    assert handle(inbox, "e1", "retried") is True
    assert effects(engine) == ["retried"]


def test_two_instances_racing_commit_once(engine) -> None:  # type: ignore[no-untyped-def]
    a, b = SqlInbox(engine), SqlInbox(engine)
    with a.once("group", "e1", "t") as fresh_a:
        assert fresh_a
        with transaction(engine) as s:
            s.add(Effect(note="a"))
        # b starts before a commits: it sees nothing handled, does the work, commits first
        assert handle(b, "e1", "b") is True
    # a's commit hit the primary key: its writes rolled back with its mark
    assert effects(engine) == ["b"]


def test_outside_a_handler_transaction_commits_its_own_session(engine) -> None:  # type: ignore[no-untyped-def]
    with transaction(engine) as s:
        s.add(Effect(note="rest"))
    assert effects(engine) == ["rest"]


def test_prune_forgets_old_keys_only(engine) -> None:  # type: ignore[no-untyped-def]
    inbox = SqlInbox(engine)
    handle(inbox, "old", "x")
    handle(inbox, "new", "y")
    with Session(engine) as s:
        row = s.get(HandledEvent, ("group", "old"))
        assert row is not None
        row.handled_at = row.handled_at.replace(year=2000)
        s.add(row)
        s.commit()
    assert inbox.prune(3600) == 1
    assert not inbox.handled("group", "old") and inbox.handled("group", "new")


def test_file_inbox_marks_after_success_only(tmp_path: Path) -> None:
    inbox = FileInbox(tmp_path)
    with pytest.raises(RuntimeError), inbox.once("evaluator", "ev-1", "t") as fresh:
        assert fresh
        raise RuntimeError("boom")
    assert not inbox.handled("evaluator", "ev-1")
    with inbox.once("evaluator", "ev-1", "t") as fresh:
        assert fresh
    with inbox.once("evaluator", "ev-1", "t") as fresh:
        assert not fresh
    assert not list(tmp_path.rglob("*.tmp"))


def test_file_inbox_prune(tmp_path: Path) -> None:
    inbox = FileInbox(tmp_path)
    for key in ("a", "b"):
        with inbox.once("g", key, "t"):
            pass
    old = inbox._marker("g", "a")  # noqa: SLF001
    os.utime(old, (time.time() - 10_000, time.time() - 10_000))
    assert inbox.prune(3600) == 1
    assert not inbox.handled("g", "a") and inbox.handled("g", "b")
