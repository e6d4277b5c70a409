"""Tasks and dataset references as they travel in events. Message structs only.

Datasets travel by reference (claim check): a content-addressed URI plus its sha256, so a
request stays small and the reader can verify what it got.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MetricName = Literal[
    "exact_match", "contains", "regex", "numeric", "choice", "json_valid", "json_schema", "token_f1", "judge"
]


class DatasetRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_id: str
    name: str
    kind: Literal["golden", "silver", "captured", "regression", "redteam"] = "golden"
    uri: str = Field(description="file:///... in embedded mode, s3://... in production")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    items: int = Field(ge=0)
    labelled_by: str | None = Field(None, description="teacher candidate for silver datasets")


class TrafficProfile(BaseModel):
    """A task's production traffic, for its monthly cost: how many requests, how long each."""

    model_config = ConfigDict(extra="forbid")

    requests_per_month: float = Field(gt=0, le=1e12)
    input_tokens: float = Field(gt=0, le=1e7, description="prompt tokens per request (mean)")
    output_tokens: float = Field(gt=0, le=1e7, description="completion tokens per request (mean)")


class TaskSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    metric: MetricName = "exact_match"
    metric_args: dict[str, str | float | int | bool | list[str]] = Field(default_factory=dict)
    prompt_template: str = Field("{input}", description="str.format template over the item's fields")
    prompt_style: Literal["chat", "completion"] = "chat"
    system_prompt: str | None = None
    prompt_version: str | None = None
    datasets: list[DatasetRef] = Field(default_factory=list)
    traffic: TrafficProfile | None = Field(None, description="the task's own traffic profile; none: the deployer "
                                           "takes it from the route's logged traffic, else the datasets' lengths")


class DatasetItem(BaseModel):
    """One JSONL line of a dataset: `input` is text or chat messages."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    input: str | list[dict[str, str]]
    expected: str | int | float | bool | list[str] | dict[str, object] | None = None
    metadata: dict[str, object] = Field(default_factory=dict)
