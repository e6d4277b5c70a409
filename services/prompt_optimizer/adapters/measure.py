"""The configuration search's measurement port over real engines: one call of a variant, scored
by the task's metric."""

from __future__ import annotations

from schemas.candidate import CandidateSpec
from schemas.task import DatasetItem, TaskSpec
from services.prompt_optimizer.domain.configs import ConfigVariant
from services.prompt_optimizer.domain.halving import Obs
from shared.engines import EngineClient, client_for
from shared.processing import postprocess
from shared.scoring.metrics import answer_key, score
from shared.scoring.prompting import build_request


class EngineMeasure:
    """One call of a variant: its endpoint, decoding and post-processing; scored by the task metric."""

    def __init__(self, base: CandidateSpec, task: TaskSpec) -> None:
        self.base, self.task = base, task
        self._clients: dict[tuple[str, str], EngineClient] = {}

    def _client(self, v: ConfigVariant) -> EngineClient:
        url = v.endpoint.url or str(self.base.endpoint)
        key = (url, v.endpoint.model or self.base.model)
        if key not in self._clients:
            self._clients[key] = client_for(self.base.engine, url, key[1], api_key_env=self.base.api_key_env)
        return self._clients[key]

    async def __call__(self, v: ConfigVariant, item: DatasetItem, repeat: int) -> Obs:
        seed = (v.decoding.seed or 0) + repeat if repeat else None
        gen = await self._client(v).generate(build_request(self.task, item, v.decoding, seed=seed))
        out = postprocess(v.post.steps, gen.text)
        t = self.task
        return Obs(score(t.metric, out, item.expected, t.metric_args), answer_key(t.metric, out, t.metric_args),
                   gen.latency_ms, gen.input_tokens, gen.output_tokens)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
