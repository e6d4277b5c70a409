"""The judge model, called through shared.engines on the budgeted sample of a window."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from services.monitor.config import JudgeConfig
from services.monitor.domain.features import Record
from services.monitor.domain.judging import judge_prompt, judge_sample, parse_score
from shared.engines import EngineError, GenerationRequest, client_for

log = logging.getLogger(__name__)


class Judge:
    def __init__(self, cfg: JudgeConfig) -> None:
        self.cfg = cfg
        self._client = client_for(cfg.engine, cfg.url, cfg.model, timeout_s=cfg.timeout_s, retries=0)

    async def score(self, record: Record) -> float | None:
        req = GenerationRequest(messages=[{"role": "user", "content": judge_prompt(record)}], max_tokens=8)
        try:
            return parse_score((await self._client.generate(req)).text)
        except EngineError as exc:
            log.warning("judge call failed for %s: %s", record.request_id, exc)
            return None

    async def judge_window(self, records: Sequence[Record]) -> list[Record]:
        """The records with a `judge` feature set on the sampled ones."""
        scored: dict[str, float] = {}
        for record in judge_sample(records, self.cfg.budget_per_window):
            if (value := await self.score(record)) is not None:
                scored[record.request_id] = value
        return [r.with_feature("judge", scored[r.request_id]) if r.request_id in scored else r for r in records]

    async def aclose(self) -> None:
        await self._client.aclose()
