"""Stored answers of calls made with an ``Idempotency-Key`` (per client).

``idempotency_records`` serves the front door (gateway/policies), for every POST of an
external system, the 办件 intake included; the retention job purges expired rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from gateway.store.tables import IdempotencyRecord
from services.runtime.db import Database, utcnow


@dataclass(frozen=True)
class StoredCall:
    """What a (client, key) holds: a call in flight (``pending``) or its answer (``done``)."""

    state: str
    request_digest: str
    status_code: int | None = None
    content_type: str | None = None
    body: bytes = b""


class DatabaseIdempotencyStore:
    """``Idempotency-Key`` records in the gateway database (when no Redis is configured)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def begin(
        self, client_id: str, key: str, digest: str, lock_seconds: float
    ) -> StoredCall | None:
        """Claim (client, key) for a new call: None when claimed, else the existing record.

        A stale claim (its call died) or an expired answer is cleared and claimed anew.
        """
        for _ in range(2):
            try:
                async with self.db.transaction() as session:
                    session.add(
                        IdempotencyRecord(
                            client_id=client_id,
                            idempotency_key=key,
                            request_digest=digest,
                            state="pending",
                            expires_at=utcnow() + timedelta(seconds=lock_seconds),
                        )
                    )
                return None
            except IntegrityError:
                pass
            async with self.db.transaction() as session:
                record = (
                    await session.execute(
                        select(IdempotencyRecord).where(
                            IdempotencyRecord.client_id == client_id,
                            IdempotencyRecord.idempotency_key == key,
                        )
                    )
                ).scalar_one_or_none()
                if record is None:
                    continue
                if record.expires_at > utcnow():
                    return StoredCall(
                        record.state,
                        record.request_digest,
                        record.status_code,
                        record.content_type,
                        record.body or b"",
                    )
                await session.delete(record)
        raise RuntimeError("idempotency record could not be claimed")  # pragma: no cover

    async def finish(
        self,
        client_id: str,
        key: str,
        *,
        status_code: int,
        content_type: str | None,
        body: bytes,
        ttl: timedelta,
    ) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(IdempotencyRecord)
                .where(
                    IdempotencyRecord.client_id == client_id,
                    IdempotencyRecord.idempotency_key == key,
                )
                .values(
                    state="done",
                    status_code=status_code,
                    content_type=content_type,
                    body=body,
                    expires_at=utcnow() + ttl,
                )
            )

    async def release(self, client_id: str, key: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.client_id == client_id,
                    IdempotencyRecord.idempotency_key == key,
                    IdempotencyRecord.state == "pending",
                )
            )
