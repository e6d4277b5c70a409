"""The monitor over HTTP: the kit's /health and /metrics, and what an operator asks first
(GET /api/v1/monitor/status: the open windows, the references, the drift queue, the alarms)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.monitor.bootstrap import GROUP, bootstrap
from services.monitor.config import MonitorConfig
from shared.kit.service import http_app
from shared.settings import Settings


def create_app(settings: Settings | None = None, cfg: MonitorConfig | None = None, group: str = GROUP) -> FastAPI:
    service = bootstrap(settings, cfg=cfg, group=group)
    app = FastAPI(title="challenger-monitor")

    @app.get("/api/v1/monitor/status", tags=["monitor"])
    async def status() -> dict[str, Any]:
        return service.monitor.status()

    return http_app(service, app)
