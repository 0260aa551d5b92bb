"""parked outbox rows, resolved dead letters

Revision ID: gateway_0005_resilience
Revises: gateway_0004_frontdoor
Create Date: 2026-12-02 15:40:00
"""

from collections.abc import Sequence

from services.runtime.messaging.migration import downgrade_resilience, upgrade_resilience

revision: str = "gateway_0005_resilience"
down_revision: str | None = "gateway_0004_frontdoor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_resilience()


def downgrade() -> None:
    downgrade_resilience()
