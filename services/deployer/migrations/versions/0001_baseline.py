"""baseline: the deployer's tables, the kit's outbox and inbox; deployer_handled moves into the inbox

Before this revision the deployer made its tables with `create_all` at start-up and kept its
own dedup table, deployer_handled. So this baseline works on an empty database AND on one an
older deployer made: each table is created only where absent (a registry sharing the database
may have made the kit's tables), and the handled event ids move into the kit's inbox under the
deployer's consumer group, so an event handled before the upgrade is still not handled twice.

Revision ID: 0001
Revises:
Create Date: 2026-12-07 04:38:20
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from services.deployer.config import DeployerSettings
from shared.kit.migrations import create_kit_tables

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_schema = sa.MetaData()
TABLES = (
    sa.Table('deployer_run', _schema,
             sa.Column('candidate_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
             sa.Column('task', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
             sa.Column('phase', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
             sa.Column('state', sa.JSON(), nullable=False),
             sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
             sa.PrimaryKeyConstraint('candidate_id'),
             sa.Index('ix_deployer_run_phase', 'phase'),
             sa.Index('ix_deployer_run_task', 'task')),
    sa.Table('deployer_route', _schema,
             sa.Column('route', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
             sa.Column('revision', sa.BigInteger(), nullable=False),
             sa.Column('table_json', sa.JSON(), nullable=False),
             sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
             sa.PrimaryKeyConstraint('route')),
    sa.Table('deployer_route_traffic', _schema,
             sa.Column('route', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
             sa.Column('requests', sa.Float(), nullable=False),
             sa.Column('input_tokens', sa.Float(), nullable=False),
             sa.Column('output_tokens', sa.Float(), nullable=False),
             sa.Column('first_at', sa.Float(), nullable=True),
             sa.Column('last_at', sa.Float(), nullable=True),
             sa.PrimaryKeyConstraint('route')),
)
OLD_HANDLED = 'deployer_handled'


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        table.create(bind, checkfirst=True)
    create_kit_tables(bind)
    if sa.inspect(bind).has_table(OLD_HANDLED):
        _into_inbox(bind, DeployerSettings().deployer_group)
        op.drop_table(OLD_HANDLED)


def _into_inbox(bind: sa.engine.Connection, consumer: str) -> None:
    """Copy deployer_handled's event ids into handled_event as `consumer`'s (the deployer's
    pipeline group: the one that deduplicated with that table)."""
    old = sa.table(OLD_HANDLED, sa.column('event_id'), sa.column('event_type'), sa.column('handled_at'))
    inbox = sa.table('handled_event', sa.column('consumer'), sa.column('key'), sa.column('event_type'),
                     sa.column('handled_at'))
    there = sa.select(inbox.c.key).where(inbox.c.consumer == consumer, inbox.c.key == old.c.event_id)
    rows = sa.select(sa.literal(consumer), old.c.event_id, old.c.event_type, old.c.handled_at).where(~there.exists())
    bind.execute(sa.insert(inbox).from_select(['consumer', 'key', 'event_type', 'handled_at'], rows))


def downgrade() -> None:
    # the kit's tables stay: other services sharing the database may use them
    bind = op.get_bind()
    for table in reversed(TABLES):
        table.drop(bind, checkfirst=True)
