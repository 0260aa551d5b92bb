"""OAuth clients (接入应用): registration with grants, scopes, redirect URIs, lifetimes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.secrets import digest, new_id, new_secret
from services.identity.store import repo
from services.identity.store.tables import Client
from services.runtime.problems import Problem

GRANTS = {"authorization_code", "refresh_token", "client_credentials"}
# RFC 6749 §3.3 scope-token: printable ASCII without space, '"' and '\\'.
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,64}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{2,63}$")


@dataclass
class ClientSpec:
    name: str
    grant_types: list[str]
    scopes: list[str]
    public: bool = False
    redirect_uris: list[str] = field(default_factory=list)
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    access_token_lifetime: int | None = None
    refresh_token_lifetime: int | None = None
    can_introspect: bool = False
    client_id: str | None = None
    orgs: list[str] = field(default_factory=list)


def _check(spec: ClientSpec) -> None:
    if not spec.name.strip() or len(spec.name) > 200:
        raise Problem(422, "the client name needs 1 to 200 characters", code="invalid-client")
    if spec.client_id is not None and not _CLIENT_ID.match(spec.client_id):
        raise Problem(422, "client_id: 3-64 letters, digits and . _ : -", code="invalid-client")
    bad = [s for s in spec.scopes if not _SCOPE_TOKEN.match(s)]
    if bad or len(spec.scopes) > 100:
        raise Problem(422, "scopes must be RFC 6749 scope tokens", code="invalid-client")
    if len(spec.redirect_uris) + len(spec.post_logout_redirect_uris) > 50 or any(
        len(u) > 2000 for u in [*spec.redirect_uris, *spec.post_logout_redirect_uris]
    ):
        raise Problem(422, "too many or too long redirect URIs", code="invalid-client")
    unknown = set(spec.grant_types) - GRANTS
    if unknown or not spec.grant_types:
        raise Problem(422, f"grant types must be among {sorted(GRANTS)}", code="invalid-client")
    if spec.public and "client_credentials" in spec.grant_types:
        raise Problem(422, "a public client cannot use client_credentials", code="invalid-client")
    if "authorization_code" in spec.grant_types and not spec.redirect_uris:
        raise Problem(
            422, "authorization_code needs at least one redirect URI", code="invalid-client"
        )
    for uri in [*spec.redirect_uris, *spec.post_logout_redirect_uris]:
        parts = urlsplit(uri)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
            raise Problem(
                422,
                "redirect URIs must be absolute http(s) URIs without fragment",
                code="invalid-client",
            )
    for lifetime in (spec.access_token_lifetime, spec.refresh_token_lifetime):
        if lifetime is not None and not 30 <= lifetime <= 30 * 86400:
            raise Problem(
                422, "token lifetimes must be between 30 s and 30 days", code="invalid-client"
            )


async def create_client(session: AsyncSession, spec: ClientSpec) -> tuple[Client, str | None]:
    """Returns the row and the client secret (shown once; only its digest is stored)."""
    _check(spec)
    client_id = spec.client_id or new_id("c")
    if await repo.client(session, client_id) is not None:
        raise Problem(409, "a client with this id exists", code="exists")
    secret = None if spec.public else new_secret()
    row = Client(
        client_id=client_id,
        name=spec.name,
        secret_hash=digest(secret) if secret else None,
        public=spec.public,
        redirect_uris=spec.redirect_uris,
        post_logout_redirect_uris=spec.post_logout_redirect_uris,
        grant_types=sorted(set(spec.grant_types)),
        scopes=list(dict.fromkeys(spec.scopes)),
        access_token_lifetime=spec.access_token_lifetime,
        refresh_token_lifetime=spec.refresh_token_lifetime,
        can_introspect=spec.can_introspect,
        disabled=False,
        orgs=list(dict.fromkeys(spec.orgs)) or None,
    )
    session.add(row)
    await session.flush()
    return row, secret


async def set_disabled(session: AsyncSession, client_id: str, disabled: bool) -> Client:
    """Disable (or re-enable) a client. A disabled client gets no tokens, and every token
    it holds reads as inactive at introspection and at identity's own routes."""
    row = await repo.client(session, client_id)
    if row is None:
        raise Problem(404, "no client with this id", code="not-found")
    row.disabled = disabled
    await session.flush()
    return row


def describe(row: Client) -> dict[str, object]:
    return {
        "client_id": row.client_id,
        "name": row.name,
        "public": row.public,
        "grant_types": row.grant_types,
        "scopes": row.scopes,
        "redirect_uris": row.redirect_uris,
        "post_logout_redirect_uris": row.post_logout_redirect_uris,
        "access_token_lifetime": row.access_token_lifetime,
        "refresh_token_lifetime": row.refresh_token_lifetime,
        "can_introspect": row.can_introspect,
        "disabled": row.disabled,
    }
