"""tasks carry a traffic profile (monthly cost); stage moves record the policy their gate judged

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('traffic', sa.JSON(), nullable=True))
    with op.batch_alter_table('stage_history', schema=None) as batch_op:
        batch_op.add_column(sa.Column('policy', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('stage_history', schema=None) as batch_op:
        batch_op.drop_column('policy')
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_column('traffic')
