"""prompt versions record how they are sent (chat or completion)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 03:55:00
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
    with op.batch_alter_table('prompt_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prompt_style', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('prompt_version', schema=None) as batch_op:
        batch_op.drop_column('prompt_style')
