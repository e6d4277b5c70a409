"""outbox rows keep where the broker acknowledged them, so a log that lost them can be refilled

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The deployer may share this database and have added them already (shared.kit.migrations.create_kit_tables).
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns('outbox_event')}
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        if 'acked_partition' not in have:
            batch_op.add_column(sa.Column('acked_partition', sa.Integer(), nullable=True))
        if 'acked_offset' not in have:
            batch_op.add_column(sa.Column('acked_offset', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.drop_column('acked_offset')
        batch_op.drop_column('acked_partition')
