"""approvals name the evidence they approve and can be voided; candidates carry their root submitter

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A child takes its parent's root submitter, level by level (a lineage is a few levels deep).
_FROM_PARENT = sa.text(
    "UPDATE candidate SET root_submitted_by = (SELECT p.root_submitted_by FROM candidate p "
    "WHERE p.id = candidate.parent_id) WHERE root_submitted_by IS NULL AND EXISTS (SELECT 1 FROM candidate p "
    "WHERE p.id = candidate.parent_id AND p.root_submitted_by IS NOT NULL)")


def upgrade() -> None:
    with op.batch_alter_table('approval', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evidence', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('voided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('void_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    with op.batch_alter_table('candidate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('root_submitted_by', sqlmodel.sql.sqltypes.AutoString(length=120),
                                      nullable=True))
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE candidate SET root_submitted_by = submitted_by WHERE parent_id IS NULL"))
    while bind.execute(_FROM_PARENT).rowcount:
        pass
    bind.execute(sa.text("UPDATE candidate SET root_submitted_by = submitted_by WHERE root_submitted_by IS NULL"))
    with op.batch_alter_table('candidate', schema=None) as batch_op:
        batch_op.alter_column('root_submitted_by', existing_type=sqlmodel.sql.sqltypes.AutoString(length=120),
                              nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('candidate', schema=None) as batch_op:
        batch_op.drop_column('root_submitted_by')
    with op.batch_alter_table('approval', schema=None) as batch_op:
        batch_op.drop_column('void_reason')
        batch_op.drop_column('voided_at')
        batch_op.drop_column('evidence')
