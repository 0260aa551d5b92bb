"""What the gateway lets retention purge: nonces whose timestamp can no longer pass and
front-door Idempotency-Key records past the replay period clients were promised."""

from __future__ import annotations

from gateway.store.tables import IdempotencyRecord, UsedNonce
from services.runtime.retention import Retention


def register_retention(retention: Retention) -> None:
    grace = retention.grace
    retention.purge(
        "gateway.used_nonces", UsedNonce, lambda now: UsedNonce.expires_at < now - grace
    )
    retention.purge(
        "gateway.idempotency_records",
        IdempotencyRecord,
        lambda now: IdempotencyRecord.expires_at < now,
    )
