"""Alembic environment of the monitor's database (its outbox, or the shared DATABASE_URL).

The monitor owns no tables of its own: its database holds the kit's outbox and inbox, which
`run_env` always includes."""

from shared.kit.migrations import run_env

OWN_TABLES: frozenset[str] = frozenset()

run_env(OWN_TABLES)
