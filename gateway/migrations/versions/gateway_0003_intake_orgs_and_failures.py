"""intake: a registered system's orgs (list) and the failure counts of poisoned items

Revision ID: gateway_0003_intake
Revises: gateway_0002
Create Date: 2026-12-02 15:20:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gateway_0003_intake"
down_revision: str | None = "gateway_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("external_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("orgs", sa.JSON(), nullable=True))
    # Keep existing registrations: the one org a system had becomes its list of orgs.
    bind = op.get_bind()
    clients = sa.table(
        "external_clients",
        sa.column("client_id", sa.String()),
        sa.column("org_uscc", sa.String()),
        sa.column("orgs", sa.JSON()),
    )
    for client_id, org in bind.execute(sa.select(clients.c.client_id, clients.c.org_uscc)).all():
        bind.execute(
            clients.update()
            .where(clients.c.client_id == client_id)
            .values(orgs=[org] if org else [])
        )
    with op.batch_alter_table("external_clients", schema=None) as batch_op:
        batch_op.alter_column("orgs", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("org_uscc")

    op.create_table(
        "intake_failures",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("item", sa.String(length=500), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "item", name=op.f("pk_intake_failures")),
    )


def downgrade() -> None:
    op.drop_table("intake_failures")
    with op.batch_alter_table("external_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("org_uscc", sa.String(length=18), nullable=True))
    bind = op.get_bind()
    clients = sa.table(
        "external_clients",
        sa.column("client_id", sa.String()),
        sa.column("org_uscc", sa.String()),
        sa.column("orgs", sa.JSON()),
    )
    for client_id, orgs in bind.execute(sa.select(clients.c.client_id, clients.c.orgs)).all():
        values = json.loads(orgs) if isinstance(orgs, str) else (orgs or [])
        bind.execute(
            clients.update()
            .where(clients.c.client_id == client_id)
            .values(org_uscc=values[0] if values else "")
        )
    with op.batch_alter_table("external_clients", schema=None) as batch_op:
        batch_op.alter_column("org_uscc", existing_type=sa.String(length=18), nullable=False)
        batch_op.drop_column("orgs")
