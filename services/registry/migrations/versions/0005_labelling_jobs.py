"""labelling jobs: captured samples carry their label, tasks name a teacher and a paraphraser

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('labelling_job',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('task', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('route', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('candidate_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('window_id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    sa.Column('window_start', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('window_end', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('dataset_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('labelling_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_labelling_job_candidate_id'), ['candidate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_labelling_job_task'), ['task'], unique=False)

    with op.batch_alter_table('captured_sample', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expected', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('labelled_by', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=True))
        batch_op.add_column(sa.Column('label_status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False,
                                      server_default='pending'))
        batch_op.add_column(sa.Column('chosen_by', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=True))

    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('teacher_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('paraphraser_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_column('paraphraser_id')
        batch_op.drop_column('teacher_id')

    with op.batch_alter_table('captured_sample', schema=None) as batch_op:
        batch_op.drop_column('chosen_by')
        batch_op.drop_column('label_status')
        batch_op.drop_column('labelled_by')
        batch_op.drop_column('expected')

    with op.batch_alter_table('labelling_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_labelling_job_task'))
        batch_op.drop_index(batch_op.f('ix_labelling_job_candidate_id'))

    op.drop_table('labelling_job')
