"""授权用证: holders' authorisations, the use log and 加注件 links

Revision ID: certs_0004_use
Revises: certs_0003_resilience
Create Date: 2026-12-02 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "certs_0004_use"
down_revision: str | None = "certs_0003_resilience"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cert_authorizations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("holder_kind", sa.String(length=10), nullable=False),
        sa.Column("holder_ref", sa.String(length=128), nullable=False),
        sa.Column("org_uscc", sa.String(length=18), nullable=False),
        sa.Column("use_cause", sa.String(length=500), nullable=False),
        sa.Column("lineage", sa.String(length=100), nullable=True),
        sa.Column("type_code", sa.String(length=21), nullable=True),
        sa.Column("case_no", sa.String(length=43), nullable=True),
        sa.Column("matter_code", sa.String(length=64), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cert_authorizations")),
    )
    with op.batch_alter_table("cert_authorizations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cert_authorizations_holder", ["holder_kind", "holder_ref"], unique=False
        )
    op.create_table(
        "cert_uses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lineage", sa.String(length=100), nullable=False),
        sa.Column("certificate_id", sa.String(length=120), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("org_uscc", sa.String(length=18), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("use_cause", sa.String(length=500), nullable=False),
        sa.Column("case_no", sa.String(length=43), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("authorization_id", sa.String(length=32), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cert_uses")),
    )
    with op.batch_alter_table("cert_uses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cert_uses_lineage"), ["lineage"], unique=False)
    op.create_table(
        "cert_file_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("certificate_id", sa.String(length=120), nullable=False),
        sa.Column("org_uscc", sa.String(length=18), nullable=False),
        sa.Column("use_cause", sa.String(length=500), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_cert_file_links")),
    )

    # The count of taken status-list indices, kept on the list row (was a count(*) of the
    # issuer's certificates on every issuance).
    with op.batch_alter_table("status_lists", schema=None) as batch_op:
        batch_op.add_column(sa.Column("used", sa.Integer(), server_default="0", nullable=False))
    op.execute(
        "UPDATE status_lists SET used = (SELECT count(*) FROM certificates "
        "WHERE certificates.issuer_uscc = status_lists.issuer_uscc)"
    )


def downgrade() -> None:
    with op.batch_alter_table("status_lists", schema=None) as batch_op:
        batch_op.drop_column("used")
    op.drop_table("cert_file_links")
    with op.batch_alter_table("cert_uses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cert_uses_lineage"))
    op.drop_table("cert_uses")
    with op.batch_alter_table("cert_authorizations", schema=None) as batch_op:
        batch_op.drop_index("ix_cert_authorizations_holder")
    op.drop_table("cert_authorizations")
