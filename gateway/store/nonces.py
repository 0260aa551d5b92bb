"""Nonces of signed calls, remembered until their timestamp could no longer pass."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.store.tables import UsedNonce
from services.runtime.db import Database


async def consume(db: Database, app_key: str, nonce: str, expires_at: datetime) -> bool:
    """Record a nonce; False when it was seen before (a replay). Committed on its own, so
    a replay is refused even while the first call is still being processed."""
    try:
        async with db.transaction() as session:
            seen = await session.scalar(
                select(UsedNonce.nonce).where(
                    UsedNonce.app_key == app_key, UsedNonce.nonce == nonce
                )
            )
            if seen is not None:
                return False
            session.add(UsedNonce(app_key=app_key, nonce=nonce, expires_at=expires_at))
    except IntegrityError:
        return False
    return True
