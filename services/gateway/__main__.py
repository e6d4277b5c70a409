"""`python -m services.gateway`: the gateway on CHALLENGER_GATEWAY_PORT (8080)."""

from services.gateway.app import build_app
from services.gateway.config import GatewaySettings
from shared.runtime import serve

if __name__ == "__main__":
    settings = GatewaySettings()
    serve(build_app(gs=settings), settings.port)  # type: ignore[arg-type]
