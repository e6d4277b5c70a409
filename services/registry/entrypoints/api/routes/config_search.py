"""Configuration searches: start one for a candidate, read its result and its frontier chart."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from schemas.events.prompts import Budget, ConfigVariantResult, SearchSpace
from services.registry.adapters.models import ConfigSearch
from services.registry.domain.endpoints import check_endpoint
from services.registry.domain.roles import Action, require
from services.registry.domain.validation import FieldError, Invalid
from services.registry.entrypoints.api.deps import CurrentUser, RegistryDep, SessionDep
from services.registry.handlers import config_search as handlers
from services.registry.handlers.lookup import get_or_404
from shared.frontier_chart import frontier_svg

router = APIRouter(tags=["config search"])


class ConfigSearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    space: SearchSpace = Field(description="decoding knobs, post-processing variants and endpoints to combine")
    budget: Budget = Field(default_factory=Budget, description="evaluation calls, tokens and seconds, stated up "
                                                              "front and respected")
    submit_recommended: bool = Field(False, description="enter the recommended variant into the pipeline (the "
                                                        "gauntlet); every other variant is registered only")
    run_id: str | None = Field(None, min_length=3, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _check_endpoints(allow: tuple[str, ...], space: SearchSpace) -> None:
    errors = [FieldError(f"space.endpoints.{i}.url", e.reason)
              for i, ep in enumerate(space.endpoints or []) for e in check_endpoint(str(ep.url), allow)]
    if errors:
        raise Invalid(errors)


@router.post("/candidates/{candidate_id}/config-search", status_code=status.HTTP_202_ACCEPTED,
             response_model=ConfigSearch)
def start(registry: RegistryDep, session: SessionDep, user: CurrentUser, candidate_id: str,
          body: ConfigSearchIn) -> ConfigSearch:
    """Publish `config_search.requested` (through the outbox); the prompt optimizer runs it and the
    result appears here when `config_search.completed` arrives."""
    require(user.role, Action.submit)
    _check_endpoints(registry.settings.allowed_endpoints, body.space)
    search = handlers.request_search(session=session, candidate_id=candidate_id, space=body.space,
                                     budget=body.budget, actor=user.name, submit_recommended=body.submit_recommended,
                                     run_id=body.run_id)
    session.commit()
    return search


@router.get("/candidates/{candidate_id}/config-searches", response_model=list[ConfigSearch])
def of_candidate(session: SessionDep, candidate_id: str) -> list[ConfigSearch]:
    return handlers.searches_of(session=session, candidate_id=candidate_id)


@router.get("/config-searches/{run_id}", response_model=ConfigSearch)
def get_search(session: SessionDep, run_id: str) -> ConfigSearch:
    return get_or_404(session, ConfigSearch, run_id, "configuration search")


@router.get("/config-searches/{run_id}/frontier.svg", response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}}}})
def frontier(session: SessionDep, run_id: str) -> Response:
    """The frontier scatter (accuracy vs cost, p95 latency as colour), the report's own chart."""
    search = get_or_404(session, ConfigSearch, run_id, "configuration search")
    variants = [ConfigVariantResult.model_validate(v) for v in search.variants]
    svg = frontier_svg(variants, cost_unit=search.cost_unit or "cost", element_id=f"frontier-{run_id}")
    return Response(svg, media_type="image/svg+xml")
