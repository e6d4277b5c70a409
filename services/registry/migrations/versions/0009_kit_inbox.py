"""the kit inbox (handled_event) replaces processed_event: what the registry handled moves over

Revision ID: 0009
Revises: 0008
Create Date: 2027-01-10 09:00:00

The registry's consumer group ("registry") now dedupes through shared.kit.inbox, keyed by the
event id, or, for a run's result, by its business key (services.registry.domain.projections:
`<kind>:<run id>:<status>`, built here in SQL from the result rows as that code builds it).
So that nothing handled before the upgrade is applied again, the inbox receives every
processed event's id and every recorded result's business key.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from shared.kit.migrations import create_kit_tables

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSUMER = 'registry'  # the consumer group (a constant, written into the SQL below)
_ABSENT = f"NOT EXISTS (SELECT 1 FROM handled_event h WHERE h.consumer = '{CONSUMER}' AND h.key = {{key}})"
_EVENT_IDS = sa.text(
    "INSERT INTO handled_event (consumer, key, event_type, handled_at) "
    f"SELECT '{CONSUMER}', p.event_id, p.type, p.at FROM processed_event p WHERE " + _ABSENT.format(key="p.event_id"))
# A result repeated under a new event id before the upgrade has one result row (the repeat
# was ignored): one key per (kind, run, status), at the time it was first handled.
_BUSINESS_KEY = "r.kind || ':' || r.run_id || ':' || r.status"
_RESULT_KEYS = sa.text(
    "INSERT INTO handled_event (consumer, key, event_type, handled_at) "
    f"SELECT '{CONSUMER}', {_BUSINESS_KEY}, MIN(p.type), MIN(p.at) "
    "FROM result_record r JOIN processed_event p ON p.event_id = r.event_id "
    f"WHERE r.run_id IS NOT NULL AND {_ABSENT.format(key=_BUSINESS_KEY)} "
    "GROUP BY r.kind, r.run_id, r.status")

def upgrade() -> None:
    bind = op.get_bind()
    create_kit_tables(bind)
    bind.execute(_EVENT_IDS)
    bind.execute(_RESULT_KEYS)
    op.drop_table('processed_event')


def downgrade() -> None:
    """processed_event again, with the event ids the inbox holds (the business keys stay in the
    inbox, whose table the kit owns; the old code finds repeats in result_record)."""
    op.create_table('processed_event',
                    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
                    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
                    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('event_id'))
    op.get_bind().execute(sa.text(
        "INSERT INTO processed_event (event_id, type, at) SELECT key, event_type, handled_at FROM handled_event "
        f"WHERE consumer = '{CONSUMER}' AND key NOT LIKE '%:%'"))
