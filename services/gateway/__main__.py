"""`python -m services.gateway`: the gateway on CHALLENGER_GATEWAY_PORT (8080), in
CHALLENGER_GATEWAY_WORKERS processes (1 by default) sharing that port. It refuses to start,
with the reason on stderr and exit status 2, when its settings do not allow it to (no API keys
and no explicit CHALLENGER_GATEWAY_AUTH=off, a malformed rate limit): checked here, before
any worker starts."""

import sys

from services.gateway.app import WORKER_APP, build_app
from services.gateway.config import GatewaySettings
from shared.runtime import serve

if __name__ == "__main__":
    try:
        settings = GatewaySettings()
        app = build_app(gs=settings)
    except ValueError as exc:
        print(f"gateway: refusing to start: {exc}", file=sys.stderr)
        sys.exit(2)
    serve(WORKER_APP if settings.workers > 1 else app, settings.port, workers=settings.workers)  # type: ignore[arg-type]
