"""Which parts the embedded stack has, their default ports, and the env vars that move them.

Every part's port is overridable with CHALLENGER_<PART>_PORT (e.g. CHALLENGER_REGISTRY_PORT,
CHALLENGER_PROMPT_OPTIMIZER_PORT), so tests can run a whole stack on free ports. Services
read their own port from the same variable.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping

from shared.process import ProcessError

DEFAULT_PORTS: dict[str, int] = {
    "broker": 19092,
    "registry": 8000,
    "gateway": 8080,
    "evaluator": 8101,
    "loadtester": 8102,
    "prompt_optimizer": 8103,
    "deployer": 8104,
    "monitor": 8105,
    "smollm2": 8301,
    "gemma3": 8302,
}

# Start order: the registry first (the others call it), the gateway last (it routes to them).
SERVICES: tuple[str, ...] = ("registry", "evaluator", "loadtester", "prompt_optimizer", "deployer", "monitor",
                             "gateway")
MODELS: tuple[str, ...] = ("smollm2", "gemma3")


def port_env(part: str) -> str:
    return f"CHALLENGER_{part.upper()}_PORT"


def port_of(part: str, environ: Mapping[str, str] = os.environ) -> int:
    raw = environ.get(port_env(part))
    if raw is None:
        return DEFAULT_PORTS[part]
    try:
        port = int(raw)
    except ValueError:
        raise ProcessError(f"{port_env(part)}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise ProcessError(f"{port_env(part)}={port} is outside 1..65535")
    return port


def ports(environ: Mapping[str, str] = os.environ) -> dict[str, int]:
    return {part: port_of(part, environ) for part in DEFAULT_PORTS}


def service_exists(name: str) -> bool:
    """A service joins the stack once its package has a __main__.py."""
    try:
        return importlib.util.find_spec(f"services.{name}.__main__") is not None
    except ModuleNotFoundError:
        return False


def available_services() -> list[str]:
    return [name for name in SERVICES if service_exists(name)]


def duplicate_ports(assigned: Mapping[str, int]) -> list[str]:
    """Parts that were given the same port, as readable lines."""
    by_port: dict[int, list[str]] = {}
    for part, port in assigned.items():
        by_port.setdefault(port, []).append(part)
    return [f"port {port} is given to {' and '.join(parts)}" for port, parts in by_port.items() if len(parts) > 1]
