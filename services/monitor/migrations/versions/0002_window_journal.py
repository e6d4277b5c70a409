"""the window journal and alarm counters move from the instance's files into the database

Any instance of the monitor group can then rebuild the open windows of a partition of
challenger.inference it is given (issue 16, scale-out). The old files
($CHALLENGER_HOME/monitor/open-windows.jsonl, alarms.json) are not read any more: a monitor
upgraded mid-window starts that window again (its records' offsets were committed).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_schema = sa.MetaData()
TABLES = (
    sa.Table('monitor_journal', _schema,
             sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True,
                       autoincrement=True),
             sa.Column('consumer', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
             sa.Column('kafka_partition', sa.Integer(), nullable=False),
             sa.Column('route', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
             sa.Column('entries', sa.Text(), nullable=False),
             sa.Index('ix_monitor_journal_partition', 'consumer', 'kafka_partition'),
             sa.Index('ix_monitor_journal_route', 'consumer', 'route')),
    sa.Table('monitor_alarm', _schema,
             sa.Column('consumer', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
             sa.Column('route', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
             sa.Column('candidate_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
             sa.Column('state', sa.JSON(), nullable=False),
             sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
             sa.PrimaryKeyConstraint('consumer', 'route', 'candidate_id')),
)


def upgrade() -> None:
    for table in TABLES:
        table.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    for table in reversed(TABLES):
        table.drop(op.get_bind(), checkfirst=True)
