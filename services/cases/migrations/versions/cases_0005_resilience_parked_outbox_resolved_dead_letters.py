"""parked outbox rows, resolved dead letters

Revision ID: cases_0005_resilience
Revises: cases_0004_calendar
Create Date: 2026-12-02 15:40:00
"""

from collections.abc import Sequence

from services.runtime.messaging.migration import downgrade_resilience, upgrade_resilience

revision: str = "cases_0005_resilience"
down_revision: str | None = "cases_0004_calendar"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_resilience()


def downgrade() -> None:
    downgrade_resilience()
