"""Events on ``hub.identity``: login audit, 授权代办 and staff changes
(contracts/events/identity-*)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.core import IdentityCore
from services.identity.store.tables import LoginEvent
from services.runtime.db import utcnow

TOPIC = "hub.identity"


async def _publish(
    session: AsyncSession, core: IdentityCore, event_type: str, key: str, data: dict[str, Any]
) -> None:
    if core.messaging is not None:
        await core.messaging.publish(session, event_type, key=key, data=data)


async def login_attempt(
    session: AsyncSession,
    core: IdentityCore,
    *,
    outcome: str,  # succeeded | failed
    username_masked: str,
    method: str,
    account_id: str | None = None,
    subject_type: str | None = None,
    reason: str | None = None,
    client_id: str | None = None,
    ip: str | None = None,
    acr: str | None = None,
) -> None:
    now = utcnow()
    session.add(
        LoginEvent(
            at=now,
            account_id=account_id,
            username_masked=username_masked,
            method=method,
            outcome=outcome,
            reason=reason,
            client_id=client_id,
            ip=ip,
        )
    )
    data: dict[str, Any] = {
        "account_id": account_id,
        "subject_type": subject_type,
        "username": username_masked,
        "method": method,
        "reason": reason,
        "client_id": client_id,
        "ip": ip,
        "acr": acr,
        "at": now.isoformat(),
    }
    await _publish(
        session, core, f"hub.identity.login.{outcome}", account_id or username_masked, data
    )


async def account_locked(
    session: AsyncSession,
    core: IdentityCore,
    *,
    account_id: str,
    failures: int,
    until: str,
    ip: str | None = None,
) -> None:
    """Locked for one source (``ip``) only: other sources still log in."""
    await _publish(
        session,
        core,
        "hub.identity.account.locked",
        account_id,
        {"account_id": account_id, "failures": failures, "locked_until": until, "ip": ip},
    )


async def delegation_changed(
    session: AsyncSession, core: IdentityCore, *, change: str, data: dict[str, Any]
) -> None:
    await _publish(session, core, f"hub.identity.authorization.{change}", data["id"], data)


async def staff_changed(
    session: AsyncSession,
    core: IdentityCore,
    *,
    change: str,  # created | roles-changed | verified
    sub: str,
    org_uscc: str,
    by: str,
    roles: list[str] | None = None,
    roles_before: list[str] | None = None,
    level: str | None = None,
) -> None:
    data: dict[str, Any] = {"sub": sub, "org_uscc": org_uscc, "by": by, "at": utcnow().isoformat()}
    if roles is not None:
        data["roles"] = roles
    if roles_before is not None:
        data["roles_before"] = roles_before
    if level is not None:
        data["level"] = level
    await _publish(session, core, f"hub.identity.staff.{change}", sub, data)
