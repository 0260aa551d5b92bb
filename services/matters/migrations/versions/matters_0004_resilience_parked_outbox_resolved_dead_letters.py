"""parked outbox rows, resolved dead letters

Revision ID: matters_0004_resilience
Revises: matters_0003_calendar
Create Date: 2026-12-02 15:40:00
"""

from collections.abc import Sequence

from services.runtime.messaging.migration import downgrade_resilience, upgrade_resilience

revision: str = "matters_0004_resilience"
down_revision: str | None = "matters_0003_calendar"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_resilience()


def downgrade() -> None:
    downgrade_resilience()
