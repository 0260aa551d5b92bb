"""Checking access tokens this service issued, including revocation (its own tables)."""

from __future__ import annotations

from services.identity import oauth
from services.identity.core import IdentityCore
from services.identity.domain import scopes as scope_rules
from services.identity.domain.subjects import Authenticated
from services.identity.store import repo
from services.runtime.auth import InvalidToken, Principal, TokenVerifier
from services.runtime.db import utcnow


def local_verifier(core: IdentityCore) -> TokenVerifier:
    return TokenVerifier(
        issuer=core.issuer,
        audience=core.settings.auth_audience,
        key_source=lambda: core.keys.public_keys,
        leeway=core.settings.auth_leeway,
    )


async def check_active(core: IdentityCore, principal: Principal) -> Authenticated | None:
    """Raise :class:`InvalidToken` when the token was revoked (directly, by its family,
    by logout, because its 授权代办 ended or its client was disabled); return its user
    (``None`` for clients)."""
    now = utcnow()
    async with core.db.sessionmaker() as session:
        row = await repo.token_by_jti(session, principal.token_id or "")
        if row is None or row.revoked_at is not None:
            raise InvalidToken("token has been revoked")
        client = await repo.client(session, row.client_id)
        if client is None or client.disabled:
            raise InvalidToken("token has been revoked (its client is disabled)")
        if row.account_id is None:
            return None
        user = await oauth.user_of_token(session, core, row, now)
    if user is None:
        raise InvalidToken("token has been revoked")
    return user


async def active_token_user(core: IdentityCore, raw: str) -> tuple[Authenticated | None, set[str]]:
    principal = await local_verifier(core).verify(raw)
    user = await check_active(core, principal)
    return user, set(scope_rules.split(" ".join(principal.scopes)))
