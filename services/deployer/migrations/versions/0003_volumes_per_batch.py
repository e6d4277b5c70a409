"""the routes' volumes folded per consumed batch, with the ids last folded per partition

Until this revision a route's logged traffic was counted in memory and added to
deployer_route_traffic on the canary tick, so a crash lost up to one tick of it. It is now
folded per consumed batch in the transaction that folds the canaries' arms, and
deployer_traffic_folded keeps, per partition of the traffic group, the ids of the logged
inferences last folded, so a batch redelivered after a crash counts none twice.
deployer_route_traffic.counted_before is set once, here, to what was counted until now: a
traffic group reading the topic from its beginning does not count that traffic again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('deployer_traffic_folded',
                    sa.Column('group', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
                    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=220), nullable=False),
                    sa.Column('ids', sa.JSON(), nullable=False),
                    sa.PrimaryKeyConstraint('group', 'source'))
    with op.batch_alter_table('deployer_route_traffic') as batch:
        batch.add_column(sa.Column('counted_before', sa.Float(), nullable=True))
    op.execute("UPDATE deployer_route_traffic SET counted_before = last_at")


def downgrade() -> None:
    with op.batch_alter_table('deployer_route_traffic') as batch:
        batch.drop_column('counted_before')
    op.drop_table('deployer_traffic_folded')
