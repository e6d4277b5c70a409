"""The monitor's configuration: a YAML file ($CHALLENGER_MONITOR_CONFIG, else
$CHALLENGER_HOME/monitor/config.yaml); every field has a default, so no file is needed."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from services.monitor.domain.rules import HysteresisConfig, RuleConfig
from services.monitor.domain.windows import WindowPolicy


class JudgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    model: str
    engine: str = "openai"
    budget_per_window: int = Field(5, ge=0, description="judge calls per window at most")
    timeout_s: float = Field(20.0, gt=0)


class MonitorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    routes: list[str] | None = Field(None, description="watch only these routes (and their -staging); null: all")
    window_size: int = Field(50, ge=2)
    window_seconds: float | None = Field(None, gt=0)
    reference_size: int = Field(200, ge=10, description="most recent staging records kept as reference")
    drift_sample: int = Field(500, ge=10, description="records of the reference and of the window the drift test "
                              "compares at most (a seeded uniform sample): its cost per window stays bounded")
    window_log: int = Field(2000, ge=1, description="closed windows of a route kept in the database log, which "
                            "`challenger monitor reference` picks a period from (the oldest go first)")
    bootstrap_reference: bool = Field(True, description="no reference yet: a route's first window becomes it")
    rules: RuleConfig = Field(default_factory=RuleConfig)
    hysteresis: HysteresisConfig = Field(default_factory=HysteresisConfig)
    max_samples: int = Field(20, ge=1, description="failing samples per degradation event")
    html_reports: bool = True
    webhook_url: str | None = None
    webhook_timeout_s: float = Field(3.0, gt=0)
    judge: JudgeConfig | None = None

    @property
    def watched(self) -> frozenset[str] | None:
        return frozenset(self.routes) if self.routes is not None else None

    @property
    def window_policy(self) -> WindowPolicy:
        return WindowPolicy(self.window_size, self.window_seconds)


def config_path(home: Path) -> Path:
    return Path(os.environ.get("CHALLENGER_MONITOR_CONFIG") or home / "monitor" / "config.yaml")


def load_config(path: Path) -> MonitorConfig:
    if not path.exists():
        return MonitorConfig()
    return MonitorConfig.model_validate(yaml.safe_load(path.read_text()) or {})
