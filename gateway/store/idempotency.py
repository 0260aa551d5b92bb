"""Stored answers of calls made with an ``Idempotency-Key`` (per client).

``idempotent_answers`` serves the REST intake's own handling; ``idempotency_records``
(below) serves the front door's, for every POST of an external system.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.store.tables import IdempotencyRecord, IdempotentAnswer
from services.runtime.db import Database, utcnow


async def find(session: AsyncSession, client_id: str, key: str) -> IdempotentAnswer | None:
    return (
        await session.execute(
            select(IdempotentAnswer).where(
                IdempotentAnswer.client_id == client_id, IdempotentAnswer.idempotency_key == key
            )
        )
    ).scalar_one_or_none()


def remember(
    session: AsyncSession,
    *,
    client_id: str,
    key: str,
    request_digest: str,
    status_code: int,
    body: dict[str, Any],
) -> None:
    session.add(
        IdempotentAnswer(
            client_id=client_id,
            idempotency_key=key,
            request_digest=request_digest,
            status_code=status_code,
            body=body,
        )
    )


async def purge_older_than(db: Database, ttl: timedelta) -> int:
    async with db.transaction() as session:
        result = await session.execute(
            delete(IdempotentAnswer).where(IdempotentAnswer.created_at < utcnow() - ttl)
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- front door records -------------------------------------------------------------


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

    async def purge_expired(self) -> int:
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < utcnow())
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
