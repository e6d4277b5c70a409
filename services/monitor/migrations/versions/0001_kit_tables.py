"""The kit's outbox and inbox tables, where absent, and the outbox columns an older monitor's
table lacks. Safe on an empty database, on an outbox.db that `create_all` made before Alembic,
and on a DATABASE_URL the registry and the deployer share (their tables are left alone).

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

from shared.kit.migrations import create_kit_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_kit_tables(op.get_bind())


def downgrade() -> None:
    """Nothing: the tables may be shared with other services on the same database."""
