"""What the gateway lets retention purge: nonces whose timestamp can no longer pass and
idempotent answers older than the replay period clients were promised."""

from __future__ import annotations

from datetime import timedelta

from gateway.store.tables import IdempotentAnswer, UsedNonce
from services.runtime.retention import Retention


def register_retention(retention: Retention, idempotency_ttl_hours: int) -> None:
    grace = retention.grace
    ttl = timedelta(hours=idempotency_ttl_hours)
    retention.purge(
        "gateway.used_nonces", UsedNonce, lambda now: UsedNonce.expires_at < now - grace
    )
    retention.purge(
        "gateway.idempotent_answers",
        IdempotentAnswer,
        lambda now: IdempotentAnswer.created_at < now - ttl - grace,
    )
