"""Alembic environment for the deployer (the kit's `run_env`). Run by the deployer at start-up
(adapters/store.open_database); by hand, `alembic -c services/deployer/migrations/alembic.ini
upgrade head` migrates the deployer's own database (DATABASE_URL, else
$CHALLENGER_HOME/deployer.db), not the registry's."""

from __future__ import annotations

from alembic import context

from services.deployer.adapters.store import OWN_TABLES
from services.deployer.config import DeployerSettings
from shared.db import make_engine
from shared.kit.migrations import run_env

if "engine" not in context.config.attributes:
    context.config.attributes["engine"] = make_engine(DeployerSettings().deployer_db_url)
run_env(OWN_TABLES)
