"""`python -m services.gateway`: the gateway on its port (shared.ports: CHALLENGER_GATEWAY_PORT,
8080, or PORT), in CHALLENGER_GATEWAY_WORKERS processes (1 by default) sharing that port. It
refuses to start, with the reason on stderr and exit status 2, when its settings do not allow
it to (no API keys and no explicit CHALLENGER_GATEWAY_AUTH=off, a malformed rate limit):
checked here, before any worker starts."""

import sys

from services.gateway.bootstrap import NAME
from services.gateway.config import GatewaySettings
from services.gateway.entrypoints.http import WORKER_APP, create_app
from shared.kit.serve import serve

if __name__ == "__main__":
    try:
        settings = GatewaySettings()
        app = create_app(settings)
    except ValueError as exc:
        print(f"gateway: refusing to start: {exc}", file=sys.stderr)
        sys.exit(2)
    workers = settings.gateway_workers
    serve(WORKER_APP if workers > 1 else app, NAME, workers=workers)
