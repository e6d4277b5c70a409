"""Engine clients: one interface over SGLang, OpenAI-compatible servers and llama.cpp.

Importing this package stays pure: the structs come from `shared.engines.types` at once, the
client (and its HTTP library) only when one of its names is first used. A domain module that
builds a `GenerationRequest` must not pull aiohttp in through this package's `__init__`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from shared.engines.types import EngineError, Generation, GenerationRequest

if TYPE_CHECKING:
    from shared.engines.client import EngineClient
    from shared.engines.factory import client_for, client_for_spec

_LAZY = {"EngineClient": "shared.engines.client", "client_for": "shared.engines.factory",
         "client_for_spec": "shared.engines.factory"}

__all__ = ["EngineClient", "EngineError", "Generation", "GenerationRequest", "client_for", "client_for_spec"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
