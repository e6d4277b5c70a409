"""Build the right client for a candidate spec or an engine name."""

from __future__ import annotations

from schemas.candidate import CandidateSpec, Engine
from shared.engines.base import EngineClient
from shared.engines.openai import OpenAIClient
from shared.engines.sglang import SGLangClient


def client_for(engine: Engine | str, base_url: str, model: str, *, api_key_env: str | None = None,
               timeout_s: float = 60.0, retries: int = 2) -> EngineClient:
    cls = SGLangClient if Engine(engine) == Engine.sglang else OpenAIClient
    return cls(base_url, model, api_key_env=api_key_env, timeout_s=timeout_s, retries=retries)


def client_for_spec(spec: CandidateSpec, *, base_url: str | None = None, timeout_s: float = 60.0) -> EngineClient:
    url = base_url or (str(spec.endpoint) if spec.endpoint else f"http://127.0.0.1:{spec.launch.port}")  # type: ignore[union-attr]
    return client_for(spec.engine, url, spec.model, api_key_env=spec.api_key_env, timeout_s=timeout_s)
