"""the orgs a client was registered for (the ``orgs`` claim of its tokens)

Revision ID: identity_0005_certsuse
Revises: identity_0004_resilience
Create Date: 2026-12-02 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "identity_0005_certsuse"
down_revision: str | None = "identity_0004_resilience"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("orgs", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("orgs")
