"""Fixtures of the fault drills."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.sentiment_model import SentimentModel


@pytest.fixture
def model() -> Iterator[SentimentModel]:
    """The local sentiment model every drill's candidates call (see sentiment_model.py)."""
    server = SentimentModel().start()
    try:
        yield server
    finally:
        server.stop()
