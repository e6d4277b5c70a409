"""Dashboard routes: the page, its assets, its button table, the recent-event feed and the saved
reports. The page acts only through the REST API's own endpoints (with the signed-in token)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse, RedirectResponse

from services.registry.entrypoints.api.deps import RegistryDep
from services.registry.entrypoints.dashboard.actions import button_table

STATIC = Path(__file__).parent / "static"
ASSETS = {"app.js": "text/javascript", "style.css": "text/css"}

router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/dashboard")


@router.get("/dashboard")
def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


@router.get("/dashboard/actions.json")
def actions() -> dict[str, Any]:
    return button_table()


@router.get("/dashboard/{asset}")
def asset(asset: str) -> FileResponse:
    if asset not in ASSETS:
        raise HTTPException(404, f"no dashboard asset {asset!r}")
    return FileResponse(STATIC / asset, media_type=ASSETS[asset])


@router.get("/api/v1/events/recent", include_in_schema=True, tags=["dashboard"])
def recent_events(registry: RegistryDep, after: int = Query(0, ge=0), limit: int = Query(200, ge=1, le=500)
                  ) -> list[dict[str, Any]]:
    return registry.feed.after(after, limit)


@router.get("/reports/{path:path}")
def report(registry: RegistryDep, path: str) -> FileResponse:
    root = registry.settings.reports_dir.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(404, f"no report at {path!r}")
    return FileResponse(target)
