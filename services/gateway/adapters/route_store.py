"""The live routing tables. Readers take `store.routes` once per request; an update builds a
new immutable mapping and swaps the reference, so no request sees half a table."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from schemas.events.deployments import RouteTable, RouteUpdated
from services.gateway.adapters import metrics
from services.gateway.domain.routing import CompiledRoute, compile_route

log = logging.getLogger(__name__)

STATIC_REVISION = -1  # a routes file yields to any published revision


class RouteStore:
    def __init__(self) -> None:
        self.routes: MappingProxyType[str, CompiledRoute] = MappingProxyType({})

    def apply(self, table: RouteTable, revision: int) -> bool:
        """Install `table` unless a newer-or-equal revision of the route is live."""
        current = self.routes.get(table.route)
        if current is not None and current.revision >= revision:
            return False
        compiled = compile_route(table, revision)
        self.routes = MappingProxyType({**self.routes, table.route: compiled})
        _export_shares(current, table)
        log.info("route %s now at revision %d (%d target(s))", table.route, revision, len(table.targets))
        return True

    def apply_update(self, update: RouteUpdated) -> bool:
        return self.apply(update.table.model_copy(update={"route": update.route}), update.revision)

    def load_file(self, path: Path) -> int:
        for table in parse_routes_file(yaml.safe_load(path.read_text()) or {}):
            self.apply(table, STATIC_REVISION)
        return len(self.routes)

    def describe(self) -> list[dict[str, Any]]:
        return [{"revision": r.revision, **r.table.model_dump()} for r in self.routes.values()]


def _export_shares(old: CompiledRoute | None, table: RouteTable) -> None:
    for target in old.table.targets if old is not None else ():
        with contextlib.suppress(KeyError):
            metrics.ROUTE_SHARE.remove(table.route, target.candidate_id)
    total = sum(t.weight for t in table.targets) or 1.0
    shares: dict[str, float] = {}
    for target in table.targets:
        shares[target.candidate_id] = shares.get(target.candidate_id, 0.0) + target.weight / total
    for candidate, share in shares.items():
        metrics.ROUTE_SHARE.labels(table.route, candidate).set(share)


def parse_routes_file(doc: Any) -> list[RouteTable]:
    """`routes:` as a list of tables, or a mapping of route name to table."""
    routes = doc.get("routes", doc) if isinstance(doc, dict) else doc
    if isinstance(routes, dict):
        routes = [{"route": name, **spec} for name, spec in routes.items()]
    if not isinstance(routes, list):
        raise ValueError("routes file: expected a list (or mapping) of route tables under 'routes'")
    return [RouteTable.model_validate(r) for r in routes]
