"""Which parts the embedded stack has; their ports are `shared.ports`, defined once.

Every part's port is overridable with CHALLENGER_<PART>_PORT (e.g. CHALLENGER_REGISTRY_PORT,
CHALLENGER_PROMPT_OPTIMIZER_PORT), so tests can run a whole stack on free ports. Services
read their own port from the same variable.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping

from shared import ports as service_ports
from shared.ports import DEFAULT_PORTS, port_env  # noqa: F401  (the stack's ports are the services')
from shared.process import ProcessError

# Start order: the registry first (the others call it), the gateway last (it routes to them).
SERVICES: tuple[str, ...] = ("registry", "evaluator", "loadtester", "prompt_optimizer", "deployer", "monitor",
                             "gateway")
MODELS: tuple[str, ...] = ("smollm2", "gemma3")


def ports(environ: Mapping[str, str] = os.environ) -> dict[str, int]:
    """Every part's port; a malformed CHALLENGER_<PART>_PORT stops the stack with the reason."""
    try:
        return service_ports.ports(environ)
    except service_ports.PortError as exc:
        raise ProcessError(str(exc)) from None


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
