"""The one settings family: every service's settings extend `Settings`. One env var,
CHALLENGER_HOME, relocates all local state; ports come from shared.ports."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.ports import port_of


def default_home() -> Path:
    return Path.cwd() / ".challenger"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHALLENGER_", extra="ignore")

    home: Path = Field(default_factory=default_home)
    kafka_bootstrap: str = Field(default_factory=lambda: f"127.0.0.1:{port_of('broker')}")
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    registry_url: str = Field(default_factory=lambda: f"http://127.0.0.1:{port_of('registry')}")
    gateway_url: str = Field(default_factory=lambda: f"http://127.0.0.1:{port_of('gateway')}")
    token: str | None = None
    gateway_admin_urls: str = Field(
        "", description="comma-separated base URLs of EVERY gateway; the registry's consistency check reads each "
                        "one's GET /routes (the embedded stack sets its gateway)")
    gateway_admin_key: str | None = Field(None, description="API key for the gateways' /routes, if they want one")
    endpoint_allowlist: str = Field(
        "", description="comma-separated hosts, .domain suffixes or CIDR blocks candidate endpoints may use; "
                        "empty = any (set it in production, against SSRF)")
    max_body_bytes: int = Field(20 * 1024 * 1024, ge=1024, description="largest HTTP request body accepted")
    embedded: bool = True
    outbox_retention_s: float = Field(24 * 3600.0, gt=0, description="how long relayed outbox events are kept, "
                                      "to be sent again if the broker loses them (it restarted empty)")
    inbox_retention_s: float = Field(7 * 24 * 3600.0, gt=0, description="how long a consumer remembers an event "
                                     "it handled (longer than the outbox re-sends)")

    @property
    def allowed_endpoints(self) -> tuple[str, ...]:
        return tuple(e.strip() for e in self.endpoint_allowlist.split(",") if e.strip())

    @property
    def gateway_admins(self) -> tuple[str, ...]:
        return tuple(u.strip() for u in self.gateway_admin_urls.split(",") if u.strip())

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'registry.db'}"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"
