"""The candidate spec: what a submitter declares about a model setup.

Message structs only. The registry's REST API accepts this model, events carry it, and
every service that calls a model builds its engine client from it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator


class Engine(StrEnum):
    sglang = "sglang"
    openai = "openai"
    llamacpp = "llamacpp"


class Decoding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(0.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(256, ge=1, le=131072)
    seed: int | None = None
    stop: list[str] = Field(default_factory=list, max_length=16)


class LaunchSpec(BaseModel):
    """How to start an in-house engine (SGLang) for this candidate."""

    model_config = ConfigDict(extra="forbid")

    model_path: str = Field(min_length=1)
    port: int = Field(30000, ge=1, le=65535)
    tp: int = Field(1, ge=1, le=64)
    mem_fraction_static: float | None = Field(None, gt=0.0, le=1.0)
    extra_args: list[str] = Field(default_factory=list)


class GpuCost(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["gpu"] = "gpu"
    gpu_hourly_usd: float = Field(ge=0.0, description="$/hour for all GPUs of one replica")


class ApiCost(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["api"] = "api"
    input_per_1m_usd: float = Field(ge=0.0)
    output_per_1m_usd: float = Field(ge=0.0)


CostModel = Annotated[GpuCost | ApiCost, Field(discriminator="kind")]


class ProcessingStep(BaseModel):
    """A declared pre- or post-processing step (see the config-search docs)."""

    model_config = ConfigDict(extra="forbid")

    op: Literal[
        "template", "truncate", "strip", "regex_extract", "label_map", "json_extract", "max_length"
    ]
    args: dict[str, str | int | float | bool | list[str] | dict[str, str]] = Field(default_factory=dict)


class CandidateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    model: str = Field(min_length=1, max_length=200, description="model name as the engine knows it")
    version: str = Field("1", min_length=1, max_length=60)
    task: str = Field(min_length=1, max_length=120)
    engine: Engine
    endpoint: AnyHttpUrl | None = None
    launch: LaunchSpec | None = None
    quantization: str | None = Field(None, max_length=40)
    decoding: Decoding = Field(default_factory=Decoding)
    prompt_version: str | None = Field(None, description="id of a registered prompt version")
    api_key_env: str | None = Field(
        None,
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="NAME of the env var holding the provider key; the key itself is never stored",
    )
    cost: CostModel | None = None
    preprocess: list[ProcessingStep] = Field(default_factory=list)
    postprocess: list[ProcessingStep] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    parent_id: str | None = Field(None, description="candidate this one was derived from")

    @model_validator(mode="after")
    def _endpoint_or_launch(self) -> CandidateSpec:
        if self.endpoint is None and self.launch is None:
            raise ValueError("give an endpoint URL or a launch spec")
        if self.launch is not None and self.engine != Engine.sglang:
            raise ValueError("a launch spec is only supported for engine 'sglang'")
        return self
