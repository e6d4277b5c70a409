"""The /api/v1 router: every resource's routes."""

from fastapi import APIRouter

from services.registry.entrypoints.api.routes import (
    candidates,
    config_search,
    datasets,
    labelling,
    ops,
    prompts,
    samples,
    tasks,
    tokens,
)

api_router = APIRouter(prefix="/api/v1")
for module in (candidates, config_search, tasks, datasets, prompts, tokens, samples, labelling, ops):
    api_router.include_router(module.router)
