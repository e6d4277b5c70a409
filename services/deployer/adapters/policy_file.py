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
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(f"invalid policy {path}: {exc}") from exc
    for task in policy.tasks:  # a task's section is checked now, not when its first candidate arrives
        try:
            policy.for_task(task)
        except ValidationError as exc:
            raise PolicyError(f"invalid policy {path}, section tasks.{task}: {exc}") from exc
    return policy
