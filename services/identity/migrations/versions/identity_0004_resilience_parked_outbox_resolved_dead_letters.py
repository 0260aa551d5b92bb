"""parked outbox rows, resolved dead letters

Revision ID: identity_0004_resilience
Revises: identity_0003_accounts
Create Date: 2026-12-02 15:40:00
"""

from collections.abc import Sequence

from services.runtime.messaging.migration import downgrade_resilience, upgrade_resilience

revision: str = "identity_0004_resilience"
down_revision: str | None = "identity_0003_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_resilience()


def downgrade() -> None:
    downgrade_resilience()
