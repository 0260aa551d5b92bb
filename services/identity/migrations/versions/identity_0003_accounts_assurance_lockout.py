"""accounts: verified-only ID uniqueness, lockout per (account, source), SMS send times

- ``natural_persons.id_no_index`` is no longer unique: several unverified (L2) accounts may
  claim an ID number; a partial unique index allows one *verified* account per number.
- ``login_failures`` keeps brute-force state per (account, source); the per-account
  columns on ``accounts`` go.
- ``sms_codes.sent_at`` lets the service limit codes sent per mobile number.

Revision ID: identity_0003_accounts
Revises: identity_0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "identity_0003_accounts"
down_revision: str | None = "identity_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VERIFIED = sa.text("realname_verified_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("natural_persons") as batch:
        batch.drop_constraint("uq_natural_persons_id_no_index", type_="unique")
        batch.create_index("ix_natural_persons_id_no_index", ["id_no_index"], unique=False)
    op.create_index(
        "uq_natural_persons_verified_id",
        "natural_persons",
        ["id_no_index"],
        unique=True,
        postgresql_where=_VERIFIED,
        sqlite_where=_VERIFIED,
    )
    op.create_table(
        "login_failures",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_login_failures_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", "source", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("failed_logins")
        batch.drop_column("last_failure_at")
        batch.drop_column("locked_until")
    with op.batch_alter_table("sms_codes") as batch:
        batch.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_sms_codes_sent_at", ["sent_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sms_codes") as batch:
        batch.drop_index("ix_sms_codes_sent_at")
        batch.drop_column("sent_at")
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
    op.drop_table("login_failures")
    op.drop_index("uq_natural_persons_verified_id", table_name="natural_persons")
    with op.batch_alter_table("natural_persons") as batch:
        batch.drop_index("ix_natural_persons_id_no_index")
        batch.create_unique_constraint("uq_natural_persons_id_no_index", ["id_no_index"])
