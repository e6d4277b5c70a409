"""The registry over HTTP: the REST API at /api/v1, the dashboard, and (from the kit) /health
and /metrics, with the service running in the app's lifespan."""

from __future__ import annotations

from fastapi import FastAPI

from services.registry.bootstrap import RegistryService, bootstrap
from services.registry.entrypoints.api.errors import install_error_handlers
from services.registry.entrypoints.api.main import api_router
from services.registry.entrypoints.dashboard.routes import router as dashboard_router
from shared.body_limit import BodySizeLimit
from shared.kit.service import http_app
from shared.settings import Settings


def create_api(service: RegistryService) -> FastAPI:
    """The routes alone, with no lifespan (nothing connects to Kafka): what `create_app` serves,
    and what tests and the benchmark serve with their own server."""
    app = FastAPI(title="Challenger registry", version="1",
                  description="System of record for candidates, tasks, datasets, prompts and results.")
    app.state.service = service
    install_error_handlers(app)
    app.include_router(api_router)
    app.include_router(dashboard_router)
    app.add_middleware(BodySizeLimit, max_bytes=service.settings.max_body_bytes)
    return app


def create_app(service: RegistryService | None = None) -> FastAPI:
    service = service or bootstrap(Settings())
    return http_app(service, create_api(service))
