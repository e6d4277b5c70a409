"""The budgeted judge sample and the judge's prompt and answer. Pure."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from services.monitor.domain.features import Record

JUDGE_PROMPT = (
    "Rate how well the response answers the request, from 0 (useless or wrong) to 10 (perfect). "
    "Reply with the number only.\n\nRequest:\n{prompt}\n\nResponse:\n{response}\n\nScore:"
)


def judge_sample(records: Sequence[Record], budget: int) -> list[Record]:
    """A deterministic pseudo-random sample (by request id hash), so a replay judges the same records."""
    ranked = sorted(records, key=lambda r: hashlib.sha1(r.request_id.encode()).hexdigest())
    return [r for r in ranked if r.status == "ok"][:budget]


def judge_prompt(record: Record, limit: int = 2000) -> str:
    return JUDGE_PROMPT.format(prompt=record.prompt[:limit], response=record.response[:limit])


def parse_score(text: str) -> float | None:
    """The first number in the answer, scaled to [0, 1]; None when there is none."""
    match = re.search(r"\d+(?:\.\d+)?", text)
    if match is None:
        return None
    return min(max(float(match.group()) / 10.0, 0.0), 1.0)
