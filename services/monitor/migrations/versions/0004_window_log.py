"""the log of closed windows moves from the instance's files into the database

The windows of a route close on whichever instance of the monitor group owns its partition of
challenger.inference, and a moved or restarted instance has no files of its own (a
Deployment): with two replicas, each pod's files held half the routes' history, so
`challenger monitor reference` could not find a period logged by the other. Each closed window
is now a row, written in the journal's transaction that takes its records out of the open
windows, and the oldest rows of a route go once it has more than `window_log` (monitor
config). Window files an older monitor wrote ($CHALLENGER_HOME/monitor/windows/) are not read.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = sa.Table('monitor_window_log', sa.MetaData(),
                 sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True,
                           autoincrement=True),
                 sa.Column('route', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
                 sa.Column('candidate_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
                 sa.Column('window_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
                 sa.Column('opened_at', sa.Float(), nullable=False),
                 sa.Column('closed_at', sa.Float(), nullable=False),
                 sa.Column('records', sa.Text(), nullable=False),
                 sa.Index('ix_monitor_window_log_route', 'route', 'seq'))


def upgrade() -> None:
    TABLE.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    TABLE.drop(op.get_bind(), checkfirst=True)
