"""Read the promotion policy YAML (the default beside the package, or an override path)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from services.deployer.domain.policy import Policy

DEFAULT_POLICY = Path(__file__).resolve().parents[1] / "policy.yaml"


class PolicyError(ValueError):
    pass


def load_policy(path: Path | None = None) -> Policy:
    path = path or DEFAULT_POLICY
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"cannot read policy {path}: {exc}") from exc
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(f"invalid policy {path}: {exc}") from exc
