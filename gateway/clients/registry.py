"""外部系统注册表: the county and department systems allowed to push 办件.

A client has an id (the ``source_system`` of its events), a name, the USCC of its org,
the channels it may use and — for the signed legacy channel — an app key and a secret.
HMAC verification needs the secret itself, so it is stored encrypted with the PII cipher
(AES-GCM / SM4-GCM under the configured key), never in clear.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.store.tables import ExternalClient
from services.runtime.db import Database, utcnow
from services.runtime.identifiers import validate_uscc
from services.runtime.pii import pii_cipher
from services.runtime.settings import HubSettings

CHANNELS = ("rest", "soap", "exchange-table", "file")
STATUSES = ("active", "disabled")
_SECRET_CONTEXT = "external_clients.secret"


@dataclass(frozen=True)
class IssuedCredentials:
    """Shown once, at creation: the secret cannot be read back from the registry."""

    client_id: str
    app_key: str
    secret: str

    def as_dict(self) -> dict[str, str]:
        return {"client_id": self.client_id, "app_key": self.app_key, "secret": self.secret}


async def create_legacy_client(
    db: Database,
    settings: HubSettings,
    *,
    name: str,
    org_uscc: str,
    channels: tuple[str, ...] = ("soap",),
    client_id: str | None = None,
) -> IssuedCredentials:
    """Register a system with an app key + secret (HMAC-signed legacy calls)."""
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise ValueError(f"unknown channel(s): {', '.join(unknown)}")
    if not name.strip():
        raise ValueError("name is required")
    org = validate_uscc(org_uscc)
    client_id = client_id or f"sys-{secrets.token_hex(6)}"
    app_key = f"ak{secrets.token_hex(15)}"
    secret = secrets.token_urlsafe(32)
    async with db.transaction() as session:
        session.add(
            ExternalClient(
                client_id=client_id,
                name=name.strip(),
                org_uscc=org,
                channels=list(channels),
                app_key=app_key,
                secret_encrypted=pii_cipher(settings).encrypt(secret, context=_SECRET_CONTEXT),
                status="active",
            )
        )
    return IssuedCredentials(client_id, app_key, secret)


async def register_client(
    db: Database, *, client_id: str, name: str, org_uscc: str, channels: tuple[str, ...]
) -> None:
    """Register a system without a secret (OAuth client credentials, exchange table, files)."""
    async with db.transaction() as session:
        session.add(
            ExternalClient(
                client_id=client_id,
                name=name,
                org_uscc=validate_uscc(org_uscc),
                channels=list(channels),
                status="active",
            )
        )


async def get_client(session: AsyncSession, client_id: str) -> ExternalClient | None:
    return await session.get(ExternalClient, client_id)


async def find_by_app_key(session: AsyncSession, app_key: str) -> ExternalClient | None:
    return (
        await session.execute(select(ExternalClient).where(ExternalClient.app_key == app_key))
    ).scalar_one_or_none()


def client_secret(client: ExternalClient, settings: HubSettings) -> bytes:
    """The HMAC key of a legacy client (UTF-8 bytes of the issued secret)."""
    if not client.secret_encrypted:
        raise LookupError("client has no secret")
    return pii_cipher(settings).decrypt(client.secret_encrypted, context=_SECRET_CONTEXT).encode()


async def set_status(db: Database, client_id: str, status: str) -> bool:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    async with db.transaction() as session:
        client = await session.get(ExternalClient, client_id)
        if client is None:
            return False
        client.status = status
        client.updated_at = utcnow()
    return True


async def list_clients(db: Database) -> list[ExternalClient]:
    async with db.sessionmaker() as session:
        return list(
            (await session.execute(select(ExternalClient).order_by(ExternalClient.client_id)))
            .scalars()
            .all()
        )
