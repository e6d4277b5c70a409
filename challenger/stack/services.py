"""A Challenger service as a stack part: `python -m services.<name>` with the stack's env."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from challenger.stack.parts import MODELS, port_env
from shared.process import Proc

GATEWAY_AUTH_SETTINGS = ("CHALLENGER_GATEWAY_API_KEYS", "CHALLENGER_GATEWAY_API_KEY_HASHES", "CHALLENGER_GATEWAY_AUTH")
DEMO_AUTH_NOTE = ("gateway authentication is OFF (embedded demo stack: anyone who reaches its port can call the "
                  "models); set CHALLENGER_GATEWAY_API_KEYS=client:key before `challenger up` to require keys")


def demo_gateway_auth(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The embedded demo stack runs its gateway without keys, unless the operator configured auth."""
    return {} if any(environ.get(name) for name in GATEWAY_AUTH_SETTINGS) else {"CHALLENGER_GATEWAY_AUTH": "off"}


def stack_env(home: Path, ports: Mapping[str, int], database_url: str | None,
              environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """What every child process needs to find the others.

    DATABASE_URL passes through only when the operator set it: by default each service keeps
    its own SQLite file under CHALLENGER_HOME (two outbox relays on one SQLite file would
    both relay the same rows)."""
    env = {port_env(part): str(port) for part, port in ports.items()} | demo_gateway_auth(environ)
    env |= {f"CHALLENGER_{alias.upper()}_URL": f"http://127.0.0.1:{ports[alias]}/v1" for alias in MODELS}
    return env | {
        "CHALLENGER_HOME": str(home),
        "CHALLENGER_KAFKA_BOOTSTRAP": f"127.0.0.1:{ports['broker']}",
        "CHALLENGER_REGISTRY_URL": f"http://127.0.0.1:{ports['registry']}",
        "CHALLENGER_GATEWAY_URL": f"http://127.0.0.1:{ports['gateway']}",
        "CHALLENGER_GATEWAY_ADMIN_URLS": f"http://127.0.0.1:{ports['gateway']}",
        "PYTHONUNBUFFERED": "1",
        # one machine, an operator reading traces/ by hand: every trace, unless told otherwise
        "CHALLENGER_TRACE_RATIO": os.environ.get("CHALLENGER_TRACE_RATIO", "1"),
    } | ({"DATABASE_URL": database_url} if database_url else {})


def service_proc(name: str, home: Path, port: int, env: dict[str, str]) -> Proc:
    url = f"http://127.0.0.1:{port}"
    # PORT: shared.kit.serve.serve listens there whatever the service's own default is.
    return Proc(name=name, argv=[sys.executable, "-m", f"services.{name}"], port=port, home=home,
                env=env | {"PORT": str(port)},
                url=url, health_url=f"{url}/health", start_timeout=120)
