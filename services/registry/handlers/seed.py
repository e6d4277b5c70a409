"""Built-in tasks and their golden (and silver) datasets, seeded at start-up if missing."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from services.registry.adapters.models import Task
from services.registry.handlers.catalog import upload_dataset
from shared.datasets import BUILTIN_TASKS, BuiltinTask


def seed_builtin_tasks(session: Session, home: Path) -> list[str]:
    """Create the built-in tasks that do not exist yet; return their names."""
    created = [b.name for b in BUILTIN_TASKS.values() if _seed_one(session, home, b)]
    session.commit()
    return created


def _seed_one(session: Session, home: Path, builtin: BuiltinTask) -> bool:
    if session.get(Task, builtin.name) is not None:
        return False
    spec = builtin.spec
    session.add(Task(name=spec.name, metric=spec.metric, metric_args=dict(spec.metric_args),
                     prompt_template=spec.prompt_template, prompt_style=spec.prompt_style,
                     system_prompt=spec.system_prompt, description=builtin.description))
    session.flush()
    for kind in ("golden", "silver"):
        path: Path | None = getattr(builtin, f"{kind}_path", None)
        if path is not None and path.exists():
            upload_dataset(session=session, home=home, task_name=spec.name, name=f"{spec.name}-{kind}",
                           kind=kind, data=path.read_bytes())
    return True
