"""Settings every service shares. One env var, CHALLENGER_HOME, relocates all local state."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_home() -> Path:
    return Path.cwd() / ".challenger"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHALLENGER_", extra="ignore")

    home: Path = Field(default_factory=default_home)
    kafka_bootstrap: str = "127.0.0.1:19092"
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    registry_url: str = "http://127.0.0.1:8000"
    gateway_url: str = "http://127.0.0.1:8080"
    token: str | None = None
    embedded: bool = True

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'registry.db'}"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"
