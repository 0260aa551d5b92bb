"""Stored answers of REST calls made with an ``Idempotency-Key`` (per client)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.store.tables import IdempotentAnswer
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
