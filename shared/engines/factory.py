"""Build the right client for a candidate spec or an engine name."""

from __future__ import annotations

from schemas.candidate import CandidateSpec, Engine
from shared.engines.client import EngineClient
from shared.engines.openai import OpenAIProtocol
from shared.engines.retry import RetryPolicy
from shared.engines.sglang import SGLangProtocol
from shared.engines.types import EngineProtocol


def protocol_for(engine: Engine | str) -> EngineProtocol:
    """SGLang speaks its native API for completions; every other engine is OpenAI-compatible."""
    return SGLangProtocol() if Engine(engine) == Engine.sglang else OpenAIProtocol()


def client_for(engine: Engine | str, base_url: str, model: str, *, api_key_env: str | None = None,
               timeout_s: float = 60.0, retries: int = 2) -> EngineClient:
    return EngineClient(base_url, model, protocol=protocol_for(engine), api_key_env=api_key_env,
                        timeout_s=timeout_s, retry=RetryPolicy(retries=retries))


def client_for_spec(spec: CandidateSpec, *, base_url: str | None = None, timeout_s: float = 60.0) -> EngineClient:
    url = base_url or (str(spec.endpoint) if spec.endpoint else f"http://127.0.0.1:{spec.launch.port}")  # type: ignore[union-attr]
    return client_for(spec.engine, url, spec.model, api_key_env=spec.api_key_env, timeout_s=timeout_s)
