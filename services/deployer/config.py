"""Deployer settings: the shared ones plus its database, policy file, consumer group and tick."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shared.settings import Settings


class DeployerSettings(Settings):
    deployer_policy: Path | None = Field(None, description="promotion policy YAML; default: the packaged one")
    deployer_group: str = "deployer"
    deployer_tick_s: float = Field(5.0, gt=0, description="how often active canaries are analysed")
    deployer_gateway_key_env: str | None = Field(
        "CHALLENGER_GATEWAY_API_KEY",
        description="NAME of the env var holding the key the staging suite uses on the gateway")

    @property
    def deployer_traffic_group(self) -> str:
        """The group reading live traffic (challenger.inference) in batches."""
        return f"{self.deployer_group}-traffic"

    @property
    def deployer_db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'deployer.db'}"
