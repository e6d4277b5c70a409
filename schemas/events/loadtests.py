"""Events on `challenger.loadtests`: latency, throughput and cost. Key: candidate id."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from schemas.candidate import CandidateSpec
from schemas.envelope import EventData
from schemas.task import TaskSpec, TrafficProfile

TOPIC = "challenger.loadtests"


class Slo(BaseModel):
    ttft_ms: float | None = Field(None, gt=0)
    tpot_ms: float | None = Field(None, gt=0)
    e2e_ms: float | None = Field(None, gt=0)


class LoadtestRequested(EventData):
    event_type: ClassVar[str] = "io.challenger.loadtest.requested"
    topic: ClassVar[str] = TOPIC

    loadtest_id: str
    candidate_id: str
    champion_id: str | None = None
    candidate: CandidateSpec
    champion: CandidateSpec | None = None
    mode: Literal["concurrency", "poisson", "gamma", "constant"] = "concurrency"
    levels: list[float] = Field(default_factory=lambda: [1, 2, 4], min_length=1)
    input_tokens: int = Field(64, ge=1)
    output_tokens: int = Field(32, ge=1)
    requests_per_level: int = Field(20, ge=1)
    duration_s: float | None = Field(None, gt=0)
    slo: Slo = Field(default_factory=Slo)
    target_url: str | None = None
    protocol: Literal["openai-chat", "openai-completions", "sglang"] | None = Field(
        None, description="wire protocol; default: sglang native for the sglang engine, else openai-chat")
    input_tokens_max: int | None = Field(None, ge=1, description="uniform input lengths up to this")
    output_tokens_max: int | None = Field(None, ge=1, description="uniform output lengths up to this")
    warmup_requests: int = Field(0, ge=0, description="requests per level sent first and left out of the figures")
    burstiness: float = Field(1.0, gt=0, description="gamma shape for mode=gamma; 1 is Poisson, below 1 burstier")
    monthly_requests: float | None = Field(None, gt=0, description="traffic profile for the monthly cost")
    peak_to_mean: float = Field(1.0, ge=1.0, description="GPU replicas are provisioned for mean rate x this")
    request_timeout_s: float = Field(600.0, gt=0, le=3600, description="one request's deadline, from send to "
                                     "its last byte; one that misses it is counted as a `timeout` error")
    task_spec: TaskSpec | None = Field(
        None, description="the task whose prompt template, system prompt and style wrap every synthetic input "
        "(after the candidate's preprocess steps), as production sends it; none: the input alone")
    champion_task_spec: TaskSpec | None = Field(
        None, description="the task as the champion runs it (its own prompt), for its cost sweep; none: task_spec")
    traffic_source: str | None = Field(
        None, max_length=300, description="where monthly_requests, input_tokens and output_tokens came from "
        "(the task's profile, its route's logged traffic, or the datasets' lengths)")


class Percentiles(BaseModel):
    p50: float
    p90: float
    p95: float
    p99: float
    mean: float


class LevelResult(BaseModel):
    level: float
    requests: int
    errors: int
    request_rate: float
    achieved_rate: float | None = None
    output_tokens_per_s: float
    input_tokens_per_s: float
    goodput_rps: float
    ttft_ms: Percentiles | None = None
    itl_ms: Percentiles | None = None
    tpot_ms: Percentiles | None = None
    e2e_ms: Percentiles | None = None
    client_bound: bool = False
    target_rate: float | None = None
    errors_by_type: dict[str, int] = Field(default_factory=dict)
    goodput_tokens_per_s: float | None = None
    client: dict[str, float] = Field(default_factory=dict, description="client overhead: cpu_share, loop lag")
    mean_input_tokens: float | None = Field(None, description="prompt tokens as the server counted them")
    target_input_tokens: float | None = Field(None, description="what the length profile asked for (mean)")
    mean_output_tokens: float | None = None
    postprocess_ms: Percentiles | None = Field(
        None, description="the candidate's post-processing after the last token; inside e2e_ms, outside TTFT/ITL")
    error_reasons: dict[str, str] = Field(default_factory=dict, description="one example reason per error type")


class InputSizing(BaseModel):
    """How synthetic inputs were sized: prompt tokens = overhead_tokens + tokens_per_word x words."""

    tokens_per_word: float
    overhead_tokens: float = Field(description="template, system prompt and the server's chat template")
    measured: bool = Field(description="fitted on the server's prompt-token counts; false: estimated")


class CostSummary(BaseModel):
    usd_per_1m_tokens: float
    usd_per_request: float
    monthly_usd: float | None = None
    champion_usd_per_1m_tokens: float | None = None
    delta_usd_per_1m_tokens: float | None = None
    delta_monthly_usd: float | None = None


class TrafficUsed(TrafficProfile):
    """The traffic profile the monthly cost was computed at, and where it came from."""

    source: str


class LoadtestCompleted(EventData):
    event_type: ClassVar[str] = "io.challenger.loadtest.completed"
    topic: ClassVar[str] = TOPIC

    loadtest_id: str
    candidate_id: str
    levels: list[LevelResult]
    saturated_at: float | None = None
    cost: CostSummary | None = None
    report_path: str | None = None
    results_path: str | None = None
    input_sizing: InputSizing | None = None
    traffic: TrafficUsed | None = Field(None, description="the traffic profile of monthly_usd (from the request)")


class LoadtestFailed(EventData):
    event_type: ClassVar[str] = "io.challenger.loadtest.failed"
    topic: ClassVar[str] = TOPIC

    loadtest_id: str
    candidate_id: str
    reason: str
