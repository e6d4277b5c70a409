"""The old import path of the engine structs and client, kept so callers not yet moved keep
working: new code imports `shared.engines.types` (pure) or `shared.engines.client`."""

from shared.engines.client import EngineClient
from shared.engines.retry import RETRYABLE_STATUS
from shared.engines.types import EngineError, Generation, GenerationRequest

__all__ = ["RETRYABLE_STATUS", "EngineClient", "EngineError", "Generation", "GenerationRequest"]
