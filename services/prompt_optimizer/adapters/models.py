"""The domain's model ports over real engine clients."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.candidate import Decoding
from schemas.task import DatasetItem, TaskSpec
from services.prompt_optimizer.domain.ports import Reply
from shared.engines import EngineClient, Generation, GenerationRequest
from shared.scoring.prompting import build_request


def _reply(gen: Generation) -> Reply:
    return Reply(gen.text, gen.input_tokens, gen.output_tokens, gen.latency_ms)


@dataclass
class EngineTarget:
    """The candidate under optimization: the task's style and the candidate's decoding, with
    the variant's template in place of the task's."""

    client: EngineClient
    task: TaskSpec
    decoding: Decoding

    async def __call__(self, template: str, item: DatasetItem) -> Reply:
        task = self.task.model_copy(update={"prompt_template": template})
        return _reply(await self.client.generate(build_request(task, item, self.decoding)))


@dataclass
class EngineProposer:
    """The optimizer model, asked as a chat model; sampling varies per call so proposals differ."""

    client: EngineClient
    temperature: float = 0.9
    max_tokens: int = 96
    seed: int = 0

    async def __call__(self, prompt: str, call_index: int) -> Reply:
        req = GenerationRequest(messages=[{"role": "user", "content": prompt}], temperature=self.temperature,
                                max_tokens=self.max_tokens, seed=self.seed * 1_000 + call_index)
        return _reply(await self.client.generate(req))
