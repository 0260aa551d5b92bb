"""特别程序 time limit on the matter replica and on each case

Revision ID: cases_0003_caserules
Revises: cases_0002
Create Date: 2026-12-02 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cases_0003_caserules"
down_revision: str | None = "cases_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("cases", "matter_replicas"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("special_procedure_limit_days", sa.Integer(), nullable=True)
            )


def downgrade() -> None:
    for table in ("matter_replicas", "cases"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("special_procedure_limit_days")
