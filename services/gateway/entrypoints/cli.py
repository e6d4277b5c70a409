"""Gateway commands: `challenger routes` lists the live routing tables; `challenger route set`
publishes a new table as a route.updated event (every gateway instance applies it)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import httpx
import typer

from schemas import new_event
from schemas.events.deployments import RouteTable, RouteTarget, RouteUpdated
from services.cli.output import Column, Output, fail, with_output
from shared.bus.producer import EventProducer
from shared.settings import Settings


def parse_target(spec: str) -> RouteTarget:
    """`candidate=url=model[=weight]`."""
    parts = spec.split("=")
    if len(parts) not in (3, 4) or not all(parts[:3]):
        raise typer.BadParameter(f"{spec!r}: expected candidate=url=model[=weight]")
    try:
        weight = float(parts[3]) if len(parts) == 4 else 1.0
    except ValueError as exc:
        raise typer.BadParameter(f"{spec!r}: weight must be a number") from exc
    return RouteTarget(candidate_id=parts[0], url=parts[1], model=parts[2], weight=weight)


def build_update(route: str, targets: list[str], fallbacks: list[str], shadows: list[str],
                 sticky_key: str | None, cache_ttl_s: int | None, require_json: bool,
                 revision: int | None) -> RouteUpdated:
    table = RouteTable(route=route, targets=[parse_target(t) for t in targets],
                       fallbacks=[parse_target(t) for t in fallbacks], shadows=[parse_target(t) for t in shadows],
                       sticky_key=sticky_key, cache_ttl_s=cache_ttl_s, require_json=require_json)
    now_ms = time.time_ns() // 1_000_000  # the deployer numbers revisions in milliseconds too
    return RouteUpdated(route=route, table=table, revision=revision if revision is not None else now_ms)


async def publish_update(bootstrap: str, update: RouteUpdated) -> None:
    async with EventProducer(bootstrap, client_id="challenger-cli") as producer:
        await producer.publish(new_event(update, source="challenger/cli", subject=update.route))


ROUTES = [Column("route", key=True), Column("rev", drop=2), Column("targets (weight)", key=True),
          Column("fallbacks"), Column("shadows", drop=3), Column("cache", drop=1)]


def _route_row(t: dict) -> list[str]:  # type: ignore[type-arg]
    return [t["route"], str(t["revision"]), "\n".join(f"{x['candidate_id']}={x['weight']:g}" for x in t["targets"]),
            "\n".join(x["candidate_id"] for x in t["fallbacks"]) or "-",
            "\n".join(x["candidate_id"] for x in t["shadows"]) or "-", str(t["cache_ttl_s"] or "off")]


route_app = typer.Typer(help="Change the gateway's routing tables.", no_args_is_help=True)
GatewayUrl = Annotated[str | None, typer.Option(help="gateway URL (default: settings.gateway_url)")]
ApiKey = Annotated[str | None, typer.Option(envvar="CHALLENGER_API_KEY", help="API key, if the gateway wants one")]


@with_output
def routes(url: GatewayUrl = None, key: ApiKey = None, *, out: Output) -> None:
    """List the routing tables a running gateway is serving."""
    base = url or Settings().gateway_url
    headers = {"authorization": f"Bearer {key}"} if key else {}
    try:
        tables = httpx.get(f"{base}/routes", headers=headers, timeout=5).raise_for_status().json()
    except httpx.HTTPError as exc:
        fail(f"cannot read {base}/routes: {exc}", 2)
    out.emit(tables, out.table("routes", ROUTES, [_route_row(t) for t in tables]))


Route = Annotated[str, typer.Argument(help="route name (the 'model' clients ask for)")]
Targets = Annotated[list[str], typer.Option("--target", "-t", help="candidate=url=model[=weight]")]
Fallbacks = Annotated[list[str] | None, typer.Option("--fallback", "-f", help="candidate=url=model, in order")]
Shadows = Annotated[list[str] | None, typer.Option("--shadow", "-s", help="candidate=url=model to mirror")]
StickyKey = Annotated[str | None, typer.Option(help="header pinning a user to a target, e.g. x-user-id")]
CacheTtl = Annotated[int | None, typer.Option(help="cache deterministic answers this long")]
RequireJson = Annotated[bool, typer.Option(help="answers must be valid JSON")]
Revision = Annotated[int | None, typer.Option(help="table revision (default: now in ms)")]


@route_app.command("set")
@with_output
def set_route(route: Route, target: Targets, fallback: Fallbacks = None, shadow: Shadows = None,
              sticky_key: StickyKey = None, cache_ttl_s: CacheTtl = None, require_json: RequireJson = False,
              revision: Revision = None, *, out: Output) -> None:
    """Publish a whole new routing table for ROUTE (applied atomically by every gateway). Targets
    are candidate=url=model[=weight]."""
    update = build_update(route, target, fallback or [], shadow or [], sticky_key, cache_ttl_s, require_json, revision)
    asyncio.run(publish_update(Settings().kafka_bootstrap, update))
    out.emit(update, f"published route {route} revision {update.revision} ({len(update.table.targets)} target(s))")


def register(app: typer.Typer) -> None:
    app.command("routes")(routes)
    app.add_typer(route_app, name="route")
