"""Every part's default port, defined once. CHALLENGER_<PART>_PORT moves a part (the stack
launcher, compose and tests set it), and each service reads its own port from the same
variable, so a service and the launcher can never disagree."""

from __future__ import annotations

import os
from collections.abc import Mapping

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


class PortError(ValueError):
    """A CHALLENGER_<PART>_PORT that is not a port number."""


def port_env(part: str) -> str:
    return f"CHALLENGER_{part.upper()}_PORT"


def port_of(part: str, environ: Mapping[str, str] = os.environ) -> int:
    raw = environ.get(port_env(part))
    if raw is None:
        return DEFAULT_PORTS[part]
    try:
        port = int(raw)
    except ValueError:
        raise PortError(f"{port_env(part)}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise PortError(f"{port_env(part)}={port} is outside 1..65535")
    return port


def ports(environ: Mapping[str, str] = os.environ) -> dict[str, int]:
    return {part: port_of(part, environ) for part in DEFAULT_PORTS}
