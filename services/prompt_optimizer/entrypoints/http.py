"""The prompt optimizer's HTTP face: /health and /metrics only; its work arrives on the bus."""

from __future__ import annotations

from fastapi import FastAPI

from services.prompt_optimizer.bootstrap import PromptOptimizerService, bootstrap
from shared.kit.service import http_app
from shared.settings import Settings


def create_app(service: PromptOptimizerService | None = None) -> FastAPI:
    return http_app(service or bootstrap(Settings()))
