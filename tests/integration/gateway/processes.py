"""The gateway as its own process (`python -m services.gateway`), as it runs in production:
for tests that fuzz or load it over real sockets rather than in the test's event loop."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from challenger.stack.services import service_proc
from shared.process import Proc, free_port


@contextlib.contextmanager
def gateway_process(broker: str, home: Path, routes: dict[str, Any], **env: str) -> Iterator[str]:
    """Start a gateway serving `routes` (a routes file); yield its base URL; stop it.
    `env` adds CHALLENGER_GATEWAY_* settings, e.g. API_KEYS="fuzz:sk-fuzz" (without keys it
    runs with AUTH=off)."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    routes_file = home / f"routes-{port}.yaml"
    routes_file.write_text(yaml.safe_dump({"routes": routes}))
    keys = env.get("API_KEYS") or env.get("API_KEY_HASHES")
    settings = {"ROUTES_FILE": str(routes_file), "SUBSCRIBE": "false", "AUTH": "on" if keys else "off", **env}
    proc: Proc = service_proc("gateway", home, port, {
        "CHALLENGER_HOME": str(home), "CHALLENGER_KAFKA_BOOTSTRAP": broker, "PYTHONUNBUFFERED": "1",
        **{f"CHALLENGER_GATEWAY_{k}": v for k, v in settings.items()}})
    proc.start()
    try:
        proc.wait_healthy()
        yield str(proc.url)
    finally:
        proc.stop()
