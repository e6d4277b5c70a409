"""the reference windows move from the instance's files into the database

A route's reference is fed by its staging route's windows, which are keyed `<route>-staging`
and so may close on another instance of the monitor group than the route's own windows; and
a moved or restarted instance has no files of its own (a Deployment). Every instance now reads
the one reference from the database. Reference files an older monitor wrote
($CHALLENGER_HOME/monitor/reference/<route>/<candidate>.jsonl) are not read: set one again
with `challenger monitor reference`, or let staging traffic (or the next window) make it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = sa.Table('monitor_reference', sa.MetaData(),
                 sa.Column('route', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
                 sa.Column('candidate_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
                 sa.Column('records', sa.Text(), nullable=False),
                 sa.Column('version', sa.Integer(), nullable=False),
                 sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
                 sa.PrimaryKeyConstraint('route', 'candidate_id'))


def upgrade() -> None:
    TABLE.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    TABLE.drop(op.get_bind(), checkfirst=True)
