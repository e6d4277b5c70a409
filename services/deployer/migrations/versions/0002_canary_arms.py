"""canary observations in the database: each active canary's arms since its last tick, and
what was folded into them

Until this revision the observations since the last tick were kept in memory, so a crash of
the deployer lost them. They are now folded into deployer_canary_arms per consumed batch, in
one transaction with a deployer_canary_event row per request or feedback folded (so a
redelivery counts nothing twice), and drained into the run by the tick.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('deployer_canary_arms',
                    sa.Column('canary', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
                    sa.Column('since', sa.Float(), nullable=False),
                    sa.Column('champion', sa.JSON(), nullable=False),
                    sa.Column('candidate', sa.JSON(), nullable=False),
                    sa.PrimaryKeyConstraint('canary'))
    op.create_table('deployer_canary_event',
                    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=220), nullable=False),
                    sa.Column('canary', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
                    sa.Column('arm', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
                    sa.PrimaryKeyConstraint('key'))
    op.create_index('ix_deployer_canary_event_canary', 'deployer_canary_event', ['canary'])


def downgrade() -> None:
    op.drop_index('ix_deployer_canary_event_canary', table_name='deployer_canary_event')
    op.drop_table('deployer_canary_event')
    op.drop_table('deployer_canary_arms')
