"""Engine clients: one interface over SGLang, OpenAI-compatible servers and llama.cpp."""

from shared.engines.base import EngineClient, EngineError, Generation, GenerationRequest
from shared.engines.factory import client_for, client_for_spec

__all__ = ["EngineClient", "EngineError", "Generation", "GenerationRequest", "client_for", "client_for_spec"]
