"""configuration searches as a read model: one row per run, request to result

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('config_search',
    sa.Column('run_id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('candidate_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('requested_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('submit_recommended', sa.Boolean(), nullable=False),
    sa.Column('space', sa.JSON(), nullable=False),
    sa.Column('budget', sa.JSON(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('recommended_variant', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('recommended_candidate_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('cost_unit', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('report_path', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('spent', sa.JSON(), nullable=False),
    sa.Column('variants', sa.JSON(), nullable=False),
    sa.Column('requested_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('completed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('run_id')
    )
    with op.batch_alter_table('config_search', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_config_search_candidate_id'), ['candidate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_config_search_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('config_search', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_config_search_status'))
        batch_op.drop_index(batch_op.f('ix_config_search_candidate_id'))

    op.drop_table('config_search')
