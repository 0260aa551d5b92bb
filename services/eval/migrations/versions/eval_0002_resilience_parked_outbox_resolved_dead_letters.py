"""parked outbox rows, resolved dead letters

Revision ID: eval_0002_resilience
Revises: eval_0001
Create Date: 2026-12-02 15:40:00
"""

from collections.abc import Sequence

from services.runtime.messaging.migration import downgrade_resilience, upgrade_resilience

revision: str = "eval_0002_resilience"
down_revision: str | None = "eval_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_resilience()


def downgrade() -> None:
    downgrade_resilience()
