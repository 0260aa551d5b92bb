"""Schema changes of the messaging tables, one call per service migration.

Every service's database holds the same ``outbox``/``inbox``/``dead_letters`` tables;
their later changes live here once, and each service's migration calls the function.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

_Time = sa.DateTime(timezone=True)
_PARKED = sa.text("parked_at IS NOT NULL AND published_at IS NULL")


def upgrade_resilience() -> None:
    """Parked outbox rows, indexes for retention and replay, resolved DLQ rows."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parked_at", _Time, nullable=True))
        batch_op.create_index("ix_outbox_published_at", ["published_at"], unique=False)
        batch_op.create_index(
            "ix_outbox_parked_key",
            ["key"],
            unique=False,
            postgresql_where=_PARKED,
            sqlite_where=_PARKED,
        )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_processed_at", ["processed_at"], unique=False)
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_at", _Time, nullable=True))
        batch_op.add_column(sa.Column("resolution", sa.String(length=16), nullable=True))


def downgrade_resilience() -> None:
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_column("resolution")
        batch_op.drop_column("resolved_at")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_processed_at")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_parked_key", postgresql_where=_PARKED, sqlite_where=_PARKED)
        batch_op.drop_index("ix_outbox_published_at")
        batch_op.drop_column("parked_at")
