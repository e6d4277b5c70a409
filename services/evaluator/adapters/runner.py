"""Run planned calls against the engines with bounded concurrency per endpoint, score each
answer as it arrives, and checkpoint it so a restart resumes instead of starting over."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from services.evaluator.adapters.engine_http import PooledEngine
from services.evaluator.adapters.store import EvaluationStore
from services.evaluator.domain.plan import Call
from services.evaluator.domain.redteam import attack_succeeded
from services.evaluator.domain.results import ItemResult
from shared.engines.base import EngineClient, EngineError, Generation
from shared.processing import postprocess
from shared.scoring.judge import JudgeVerdict, judge
from shared.scoring.metrics import score

Progress = Callable[[int, int], None]


@dataclass
class Scorer:
    """Turns one answer into an ItemResult: deterministic metric, judge or red-team detector."""

    metric: str
    args: Mapping[str, object]
    postprocess_steps: Mapping[str, list]  # role -> the candidate's declared post-processing
    judge_client: EngineClient | None = None

    async def __call__(self, call: Call, gen: Generation | None, error: EngineError | None) -> ItemResult:
        base = dict(kind=call.kind, role=call.role, dataset=call.dataset, item_id=call.item.id, repeat=call.repeat)
        if gen is None:
            return ItemResult(**base, score=0.0, error=str(error),  # type: ignore[arg-type]
                              category=call.item.metadata.get("category") if call.kind == "security" else None)
        usage = dict(input_tokens=gen.input_tokens, output_tokens=gen.output_tokens, latency_ms=gen.latency_ms)
        if call.kind == "security":
            return ItemResult(**base, output=gen.text, **usage, category=str(call.item.metadata["category"]),  # type: ignore[arg-type]
                              attack_succeeded=attack_succeeded(call.item, gen.text))
        answer = postprocess(self.postprocess_steps.get(call.role, []), gen.text)
        if self.metric == "judge":
            verdict = await self._judge(call, answer)
            return ItemResult(**base, output=answer, score=verdict.score, judge=verdict.outcome,  # type: ignore[arg-type]
                              judge_input_tokens=verdict.input_tokens, judge_output_tokens=verdict.output_tokens,
                              **usage)
        return ItemResult(**base, output=answer, score=score(self.metric, answer, call.item.expected, self.args),  # type: ignore[arg-type]
                          **usage)

    async def _judge(self, call: Call, answer: str) -> JudgeVerdict:
        if self.judge_client is None:
            raise ValueError("metric 'judge' needs metric_args.judge_url and judge_model")
        expected = call.item.expected
        return await judge(self.judge_client, str(self.args.get("rubric", "Is the answer correct and helpful?")),
                           str(call.item.input), answer, None if expected is None else str(expected))


async def generate_for(client: EngineClient | PooledEngine, call: Call) -> Generation:
    """Make the call; a pooled engine also says what it is for (a gateway logs the purpose)."""
    if isinstance(client, PooledEngine):
        return await client.generate(call.request, call.purpose)
    return await client.generate(call.request)


class Runner:
    def __init__(self, clients: Mapping[str, EngineClient | PooledEngine], concurrency: int,
                 store: EvaluationStore | None = None, progress: Progress | None = None) -> None:
        self._clients = clients
        self._limits = {role: asyncio.Semaphore(concurrency) for role in clients}
        self._store = store
        self._progress = progress
        self._done = 0

    async def run(self, calls: Sequence[Call], scorer: Callable[..., Awaitable[ItemResult]]) -> list[ItemResult]:
        previous = self._store.done() if self._store else {}
        todo = [c for c in calls if c.key not in previous]
        self._done, total = len(calls) - len(todo), len(calls)
        self._report(total)
        fresh = await asyncio.gather(*(self._one(c, scorer, total) for c in todo))
        by_key = {**previous, **{r.key: r for r in fresh}}
        return [by_key[c.key] for c in calls]

    async def _one(self, call: Call, scorer: Callable[..., Awaitable[ItemResult]], total: int) -> ItemResult:
        async with self._limits[call.role]:
            try:
                gen, error = await generate_for(self._clients[call.role], call), None
            except EngineError as exc:
                gen, error = None, exc
            result = await scorer(call, gen, error)
        if self._store is not None:
            self._store.append(result)
        self._done += 1
        self._report(total)
        return result

    def _report(self, total: int) -> None:
        if self._progress is not None:
            self._progress(self._done, total)
