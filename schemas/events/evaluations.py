"""Events on `challenger.evaluations`: accuracy, stability and security runs. Key: candidate id."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from schemas.candidate import CandidateSpec
from schemas.envelope import EventData
from schemas.task import TaskSpec

TOPIC = "challenger.evaluations"

EvalKind = Literal["accuracy", "stability", "security", "e2e"]
Verdict = Literal["better", "worse", "no_significant_difference"]


class GarakScan(BaseModel):
    """A garak (NVIDIA's LLM vulnerability scanner) run against the target's OpenAI-compatible route."""

    probes: list[str] = Field(min_length=1, description="garak probe names: a family (`dan`) or one probe "
                                                        "(`encoding.InjectBase64`)")
    prompt_cap: int = Field(10, ge=1, le=10_000, description="at most this many prompts per probe")
    generations: int = Field(1, ge=1, le=20, description="answers per prompt")
    max_tokens: int = Field(64, ge=1, le=4096)
    timeout_s: float = Field(1800.0, gt=0)


class EvaluationRequested(EventData):
    event_type: ClassVar[str] = "io.challenger.evaluation.requested"
    topic: ClassVar[str] = TOPIC

    evaluation_id: str
    candidate_id: str
    champion_id: str | None = None
    task: str
    candidate: CandidateSpec
    champion: CandidateSpec | None = None
    task_spec: TaskSpec
    kinds: list[EvalKind] = Field(default_factory=lambda: ["accuracy", "stability", "security"])
    stage: Literal["dev", "staging"] = "dev"
    max_items: int | None = Field(None, ge=1)
    stability_repeats: int = Field(3, ge=2, le=50)
    stability_temperature: float = Field(0.7, ge=0.0, le=2.0)
    concurrency: int = Field(8, ge=1, le=1024)
    target_url: str | None = Field(None, description="call this URL instead of the candidate's endpoint")
    garak: GarakScan | None = Field(None, description="also scan the target with these garak probes (staging)")


class MetricComparison(BaseModel):
    dataset: str
    metric: str
    n: int
    candidate_score: float
    champion_score: float | None = None
    difference: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    test: str | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    mde: float | None = None
    verdict: Verdict | None = None
    judge_unparseable: int | None = Field(None, description="judge verdicts that did not parse (metric 'judge')")
    judge_errors: int | None = Field(None, description="judge calls that failed (metric 'judge')")
    items_failed: int | None = Field(None, description="items whose model call failed (scored 0)")


class StabilitySummary(BaseModel):
    repeats: int
    mean_agreement: float
    exact_match_consistency: float
    fleiss_kappa: float | None = None
    accuracy_spread: float
    flipping_items: list[str] = Field(default_factory=list)
    seeds: list[int] | None = Field(None, description="the seed each repeat ran with, in repeat order; "
                                                      "null when the repeats ran unseeded")
    seeding: str | None = Field(None, description="how the repeats were seeded, in words: 'derived per repeat "
                                                  "from seed 7: 7, 8, 9' or 'unseeded'")


class SecuritySummary(BaseModel):
    attacks: int
    attack_success_rate: float
    by_category: dict[str, float] = Field(default_factory=dict)
    successful_attacks: list[str] = Field(default_factory=list, description="ids of attacks that succeeded")


class GarakProbe(BaseModel):
    probe: str
    attempts: int = Field(description="answers the probe's detectors evaluated")
    attack_success_rate: float = Field(description="the worst of the probe's detectors: failed / evaluated")
    detector: str = Field(description="the detector that gave that rate")


class GarakFamily(BaseModel):
    attempts: int
    attack_success_rate: float = Field(description="over the family's probes, weighted by attempts")
    probes: list[GarakProbe] = Field(default_factory=list)


class GarakSummary(BaseModel):
    garak_version: str | None = None
    probes: list[str] = Field(default_factory=list, description="the probe spec that was run")
    families: dict[str, GarakFamily] = Field(default_factory=dict)
    report_uri: str | None = Field(None, description="garak's own report.jsonl")


class TokensSpent(BaseModel):
    candidate_input: int = 0
    candidate_output: int = 0
    champion_input: int = 0
    champion_output: int = 0
    judge_input: int = 0
    judge_output: int = 0


class RequestTokens(BaseModel):
    """The candidate's tokens per call on the task's dataset items, as its server counted them."""

    requests: int = Field(ge=0)
    input_tokens: float = Field(ge=0, description="mean prompt tokens per call")
    output_tokens: float = Field(ge=0, description="mean completion tokens per call")


class EvaluationCompleted(EventData):
    event_type: ClassVar[str] = "io.challenger.evaluation.completed"
    topic: ClassVar[str] = TOPIC

    evaluation_id: str
    candidate_id: str
    champion_id: str | None = None
    task: str
    stage: Literal["dev", "staging"] = "dev"
    accuracy: list[MetricComparison] = Field(default_factory=list)
    verdict: Verdict | None = None
    stability: StabilitySummary | None = None
    security: SecuritySummary | None = None
    e2e_passed: bool | None = None
    garak: GarakSummary | None = None
    report_path: str | None = None
    tokens: TokensSpent | None = None
    request_tokens: RequestTokens | None = Field(
        None, description="mean tokens per candidate call on the accuracy items (the datasets' lengths)")
    results_uri: str | None = Field(None, description="per-item results JSONL blob (file:// or s3://)")
    results_sha256: str | None = None


class EvaluationFailed(EventData):
    event_type: ClassVar[str] = "io.challenger.evaluation.failed"
    topic: ClassVar[str] = TOPIC

    evaluation_id: str
    candidate_id: str
    reason: str
