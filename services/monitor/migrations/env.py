"""Alembic environment of the monitor's database (its outbox, or the shared DATABASE_URL).

The monitor's own tables are its window journal and alarm counters (adapters/journal.py);
the kit's outbox and inbox, which `run_env` always includes, sit beside them."""

from services.monitor.adapters.journal import OWN_TABLES
from shared.kit.migrations import run_env

run_env(OWN_TABLES)
