"""Signing keys (JWKS) with rotation.

The newest unretired key signs. Rotating retires the current key and keeps it published
until ``publish_until`` = now + the longest lifetime a token it signed can have (plus the
verifiers' leeway), so every token signed before the rotation verifies until it expires.
Private keys are stored encrypted with the process's PII cipher.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from typing import Any

from joserfc.jwk import ECKey, KeySet
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.settings import IdentitySettings
from services.identity.store.tables import Client, SigningKey
from services.runtime.crypto import FieldCipher
from services.runtime.db import Database, utcnow

log = logging.getLogger("hub.identity.keys")
ALG = "ES256"
_CONTEXT = "signing_keys.private_jwk"


class KeyRing:
    """The process's view of the signing key table, re-read every few seconds so that
    several identity processes agree after a rotation."""

    def __init__(self, db: Database, settings: IdentitySettings, cipher: FieldCipher) -> None:
        self.db = db
        self.settings = settings
        self.cipher = cipher
        self._signing: ECKey | None = None
        self._public: KeySet = KeySet([])
        self._jwks: dict[str, Any] = {"keys": []}
        self._loaded_at = 0.0

    @property
    def signing_key(self) -> ECKey:
        if self._signing is None:
            raise RuntimeError("the key ring is not loaded")
        return self._signing

    @property
    def public_keys(self) -> KeySet:
        return self._public

    @property
    def jwks(self) -> dict[str, Any]:
        return self._jwks

    async def ensure(self) -> None:
        """Load keys, creating the first one when the table is empty."""
        async with self.db.transaction() as session:
            current = await _current(session)
            if current is None:
                session.add(self._new_row())
        await self.reload()

    async def maybe_reload(self) -> None:
        if time.monotonic() - self._loaded_at > self.settings.identity_key_reload_interval:
            await self.reload()

    async def reload(self) -> None:
        now = utcnow()
        async with self.db.sessionmaker() as session:
            rows = (
                await session.scalars(
                    select(SigningKey)
                    .where(or_(SigningKey.retired_at.is_(None), SigningKey.publish_until > now))
                    .order_by(SigningKey.created_at.desc())
                )
            ).all()
        active = next((r for r in rows if r.retired_at is None), None)
        if active is None:
            raise RuntimeError("no active signing key; run ensure()")
        private = json.loads(self.cipher.decrypt(active.private_jwk, context=_CONTEXT))
        self._signing = ECKey.import_key(private)
        self._jwks = {"keys": [dict(r.public_jwk) for r in rows]}
        self._public = KeySet.import_key_set(self._jwks)
        self._loaded_at = time.monotonic()

    async def rotate(self) -> str:
        """Start signing with a new key; the old one stays published until its tokens
        have expired. Returns the new ``kid``."""
        now = utcnow()
        async with self.db.transaction() as session:
            keep = timedelta(seconds=await self.longest_token_lifetime(session))
            for row in (
                await session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None)))
            ).all():
                row.retired_at = now
                row.publish_until = now + keep
            new = self._new_row()
            session.add(new)
        await self.reload()
        log.info("signing key rotated, new kid %s", new.kid)
        return new.kid

    async def longest_token_lifetime(self, session: AsyncSession) -> int:
        s = self.settings
        lifetimes = [
            s.identity_access_token_lifetime,
            s.identity_id_token_lifetime,
            *[v for v in (await session.scalars(select(Client.access_token_lifetime))).all() if v],
        ]
        return max(lifetimes) + s.auth_leeway

    def _new_row(self) -> SigningKey:
        now = utcnow()
        kid = f"{now:%Y%m%d%H%M%S}-{int(time.time_ns() % 1_000_000):06d}"
        key = ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig", "alg": ALG})
        return SigningKey(
            kid=kid,
            alg=ALG,
            private_jwk=self.cipher.encrypt(
                json.dumps(key.as_dict(private=True)), context=_CONTEXT
            ),
            public_jwk=key.as_dict(private=False),
            created_at=now,
        )


async def _current(session: AsyncSession) -> SigningKey | None:
    return (
        await session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None)).limit(1))
    ).first()
