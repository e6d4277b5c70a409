"""Preflight: an endpoint that lists its models without ours (a gateway whose route.updated
arrives a moment after our evaluation.requested) is waited for; one that never serves it
fails the run with the reason; one that serves it is not probed at all."""

from __future__ import annotations

import pytest

from schemas.task import DatasetItem
from services.evaluator.adapters.engines import Engines
from services.evaluator.domain.checks import EvaluationFailure
from services.evaluator.domain.plan import Call
from services.evaluator.handlers.evaluation import preflight
from shared.engines import EngineError
from shared.engines.types import Generation, GenerationRequest


class Gateway:
    """A client whose route appears after `unknown_for` calls answered 404."""

    base_url, model = "http://gateway", "qa-staging"

    def __init__(self, unknown_for: int, listed: bool = False) -> None:
        self.unknown_for, self.listed, self.calls = unknown_for, listed, 0

    async def lists_model(self) -> bool:
        return self.listed

    async def health(self) -> bool:
        return True

    async def generate(self, request: GenerationRequest) -> Generation:
        self.calls += 1
        if self.calls <= self.unknown_for:
            raise EngineError("http", "404 from /v1/chat/completions: unknown route 'qa-staging'", 404)
        return Generation("ok")


CALLS = [Call("accuracy", "candidate", "golden", DatasetItem(id="1", input="hi", expected="ok"), 0,
              GenerationRequest(prompt="hi"))]


async def test_a_route_that_arrives_late_is_waited_for() -> None:
    gateway = Gateway(unknown_for=3)
    await preflight(Engines({"candidate": gateway}), CALLS, wait_s=30)  # type: ignore[dict-item]
    assert gateway.calls == 4


async def test_a_route_that_never_arrives_fails_the_run_with_the_reason() -> None:
    gateway = Gateway(unknown_for=10**6)
    with pytest.raises(EvaluationFailure, match="does not serve 'qa-staging' after waiting 1 s"):
        await preflight(Engines({"candidate": gateway}), CALLS, wait_s=1)  # type: ignore[dict-item]


async def test_a_listed_model_is_not_probed() -> None:
    gateway = Gateway(unknown_for=10**6, listed=True)
    await preflight(Engines({"candidate": gateway}), CALLS)  # type: ignore[dict-item]
    assert gateway.calls == 0
