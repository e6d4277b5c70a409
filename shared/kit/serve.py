"""How a service process starts: logging, then uvicorn on the service's one port."""

from __future__ import annotations

import logging
import os

from fastapi import FastAPI

from shared.ports import port_of


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Consumers refresh metadata every 5 s (to notice topics a restarted broker re-created), and
    # aiokafka logs each refresh at INFO: 12 identical lines a minute per consumer, burying the rest.
    logging.getLogger("aiokafka.consumer.subscription_state").setLevel(logging.WARNING)


def serve(app: object, name: str, host: str | None = None, *, workers: int = 1) -> None:
    """Run service `name` on its port (shared.ports: CHALLENGER_<NAME>_PORT, or PORT, which
    compose and Kubernetes set per container). CHALLENGER_BIND_HOST=0.0.0.0 in containers,
    loopback by default. With `workers` > 1, that many processes serve one port: uvicorn binds
    the socket here, before they start, and restarts a worker that dies; `app` is then the
    import string of a factory ("module:function") that each worker calls to build its own app
    (its own consumers and producer)."""
    import uvicorn

    port = int(os.environ.get("PORT", port_of(name)))
    host = host or os.environ.get("CHALLENGER_BIND_HOST", "127.0.0.1")
    configure_logging()
    if workers > 1:
        uvicorn.run(app, host=host, port=port, workers=workers, factory=True, log_level="warning",  # type: ignore[arg-type]
                    access_log=False)
    else:
        assert isinstance(app, FastAPI) or callable(app)
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)  # type: ignore[arg-type]
