"""外部系统注册表: the county and department systems allowed to push 办件.

A client has an id (the ``source_system`` of its events), a name, the orgs (USCCs) it
reports for, the channels it may use and — for the signed legacy channel — an app key and
a secret. The registry is deny by default: a client that is not registered, is disabled
or is not allowed a channel is refused on that channel (:func:`admit`).
HMAC verification needs the secret itself, so it is stored encrypted with the PII cipher
(AES-GCM / SM4-GCM under the configured key), never in clear.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
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


class ClientRefused(Exception):
    """The registry does not admit this client on this channel; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_registration(
    name: str, orgs: Sequence[str], channels: Sequence[str]
) -> tuple[list[str], list[str]]:
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise ValueError(f"unknown channel(s): {', '.join(unknown)}")
    if not channels:
        raise ValueError("at least one channel is required")
    if not name.strip():
        raise ValueError("name is required")
    checked = list(dict.fromkeys(validate_uscc(org) for org in orgs))
    if not checked:
        raise ValueError("at least one org (统一社会信用代码) is required")
    return checked, list(dict.fromkeys(channels))


def admit(client: ExternalClient | None, channel: str) -> ExternalClient:
    """The client if it may use ``channel``; else :class:`ClientRefused` (deny by default)."""
    if client is None:
        raise ClientRefused("client-not-registered", "this client is not registered at the hub")
    if client.status != "active":
        raise ClientRefused("client-disabled", "this client is disabled")
    if channel not in client.channels:
        raise ClientRefused("channel-not-allowed", f"this client may not use the {channel} channel")
    return client


async def admitted(session: AsyncSession, client_id: str, channel: str) -> ExternalClient:
    return admit(await get_client(session, client_id), channel)


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
    orgs: Sequence[str],
    channels: Sequence[str] = ("soap",),
    client_id: str | None = None,
) -> IssuedCredentials:
    """Register a system with an app key + secret (HMAC-signed legacy calls)."""
    org_list, channel_list = check_registration(name, orgs, channels)
    client_id = client_id or f"sys-{secrets.token_hex(6)}"
    app_key = f"ak{secrets.token_hex(15)}"
    secret = secrets.token_urlsafe(32)
    async with db.transaction() as session:
        session.add(
            ExternalClient(
                client_id=client_id,
                name=name.strip(),
                orgs=org_list,
                channels=channel_list,
                app_key=app_key,
                secret_encrypted=pii_cipher(settings).encrypt(secret, context=_SECRET_CONTEXT),
                status="active",
            )
        )
    return IssuedCredentials(client_id, app_key, secret)


async def register_client(
    db: Database, *, client_id: str, name: str, orgs: Sequence[str], channels: Sequence[str]
) -> None:
    """Register a system without a secret (OAuth client credentials, exchange table, files)."""
    org_list, channel_list = check_registration(name, orgs, channels)
    if not client_id.strip():
        raise ValueError("client id is required")
    async with db.transaction() as session:
        session.add(
            ExternalClient(
                client_id=client_id,
                name=name.strip(),
                orgs=org_list,
                channels=channel_list,
                status="active",
            )
        )


async def ensure_registered(
    db: Database, *, client_id: str, name: str, orgs: Sequence[str], channels: Sequence[str]
) -> bool:
    """Idempotent :func:`register_client` (demo seeds): ``False`` when already there."""
    async with db.sessionmaker() as session:
        if await get_client(session, client_id) is not None:
            return False
    await register_client(db, client_id=client_id, name=name, orgs=orgs, channels=channels)
    return True


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
