"""The configuration space of a search: decoding knobs x post-processing variants x endpoints
serving the same model. The base candidate's own configuration is always variant `default`."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from schemas.candidate import CandidateSpec, Decoding, ProcessingStep
from schemas.events.prompts import DECODING_KNOBS, SearchSpace


class SpaceError(ValueError):
    pass


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str | None  # None: the base candidate's own endpoint
    model: str | None = None
    quantization: str | None = None


@dataclass(frozen=True)
class PostVariant:
    name: str
    steps: tuple[ProcessingStep, ...]


@dataclass(frozen=True)
class ConfigVariant:
    id: str
    decoding: Decoding
    post: PostVariant
    endpoint: Endpoint

    @property
    def is_default(self) -> bool:
        return self.id == "default"

    def label(self) -> str:
        d = self.decoding
        stop = "|".join(s.encode("unicode_escape").decode() for s in d.stop) or "-"
        return (f"t={d.temperature:g} p={d.top_p:g} max={d.max_tokens} stop={stop} "
                f"post={self.post.name} ep={self.endpoint.name}")

    def params(self) -> dict[str, Any]:
        return {**self.decoding.model_dump(include=set(DECODING_KNOBS)), "postprocess": self.post.name,
                "endpoint": self.endpoint.name}


def parse_space(space: Mapping[str, Sequence[Any]] | SearchSpace) -> SearchSpace:
    """The space checked by its contract (`SearchSpace`); every problem in one SpaceError."""
    if isinstance(space, SearchSpace):
        return space
    try:
        return SearchSpace.model_validate(space)
    except ValidationError as exc:
        raise SpaceError("; ".join(_message(e) for e in exc.errors())) from exc


def _message(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"])
    msg = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def expand(base: CandidateSpec, space: Mapping[str, Sequence[Any]] | SearchSpace) -> list[ConfigVariant]:
    """Every combination, `default` (the base candidate as submitted) first and never twice."""
    parsed = parse_space(space)
    base_post = PostVariant("as-submitted", tuple(base.postprocess))
    base_ep = Endpoint("as-submitted", None, None, base.quantization)
    default = ConfigVariant("default", base.decoding, base_post, base_ep)
    knobs = [(k, getattr(parsed, k) or [getattr(base.decoding, k)]) for k in DECODING_KNOBS]
    posts = [PostVariant(p.name, tuple(p.steps)) for p in parsed.postprocess or []] or [base_post]
    eps = [Endpoint(e.name or f"ep{i}", str(e.url), e.model, e.quantization)
           for i, e in enumerate(parsed.endpoints or [])] or [base_ep]
    variants, seen = [default], {_key(default)}
    for values in itertools.product(*(v for _, v in knobs), posts, eps):
        decoding = base.decoding.model_copy(update=dict(zip([k for k, _ in knobs], values[:4], strict=True)))
        variant = ConfigVariant(f"c{len(variants)}", Decoding.model_validate(decoding.model_dump()),
                                values[4], values[5])
        if _key(variant) not in seen:
            seen.add(_key(variant))
            variants.append(variant)
    return variants


def _key(v: ConfigVariant) -> tuple[Any, ...]:
    steps = tuple(s.model_dump_json() for s in v.post.steps)
    return (v.decoding.model_dump_json(), steps, v.endpoint.url or "", v.endpoint.model)


def derive(base: CandidateSpec, variant: ConfigVariant, candidate_id: str, run_id: str) -> CandidateSpec:
    """The variant as a candidate derived from the base, with its lineage."""
    ep = variant.endpoint
    update: dict[str, Any] = {
        "name": re.sub(r"[^A-Za-z0-9._-]", "-", f"{base.name[:90]}-cs-{run_id[:12]}-{variant.id}"),
        "decoding": variant.decoding, "postprocess": list(variant.post.steps), "parent_id": candidate_id,
        "tags": {**base.tags, "derived_by": "config_search", "config_search_run": run_id, "variant": variant.id}}
    if ep.url is not None:
        update |= {"endpoint": ep.url, "model": ep.model or base.model, "quantization": ep.quantization}
    return CandidateSpec.model_validate({**base.model_dump(), **update,
                                         "decoding": variant.decoding.model_dump(),
                                         "postprocess": [s.model_dump() for s in variant.post.steps]})
