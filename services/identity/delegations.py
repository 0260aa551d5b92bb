"""授权代办: grant, list and revoke authorisations to act for a legal person."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity import accounts
from services.identity.core import IdentityCore
from services.identity.domain.levels import rank
from services.identity.events import audit
from services.identity.secrets import new_id
from services.identity.store import repo
from services.identity.store.tables import DelegationRow, LegalPerson, NaturalPerson
from services.runtime.auth import Principal
from services.runtime.db import utcnow
from services.runtime.problems import Problem


async def _legal_administered_by(
    session: AsyncSession, principal: Principal, uscc: str
) -> LegalPerson:
    """The legal person itself (法人账号) or its registered administrator may list and
    revoke."""
    legal = await repo.legal_by_uscc(session, uscc)
    if legal is None:
        raise Problem(404, "no legal person with this USCC")
    if principal.actor is not None:
        raise Problem(403, "an agent cannot manage authorisations", code="forbidden")
    own = principal.subject_type == "legal" and principal.subject == legal.account_id
    admin = principal.subject_type == "natural" and principal.subject == legal.admin_account_id
    if not (own or admin):
        raise Problem(
            403, "only the legal person or its administrator may do this", code="forbidden"
        )
    return legal


async def _granting_representative(
    session: AsyncSession, principal: Principal, uscc: str
) -> LegalPerson:
    """Only the verified 法定代表人 grants: the legal person is confirmed by the
    legal-person base (L3+), the caller is its administrator, has passed 实名核验 and
    logged in at L3+."""
    legal = await _legal_administered_by(session, principal, uscc)
    acc = await repo.account(session, legal.account_id)
    rep = await session.get(NaturalPerson, principal.subject)
    if (
        principal.subject != legal.admin_account_id
        or acc is None
        or rank(acc.level) < rank("L3")
        or rep is None
        or rep.realname_verified_at is None
        or not principal.assurance_at_least("L3")
    ):
        raise Problem(
            403,
            "only the verified 法定代表人 of a verified legal person, logged in at L3, grants "
            "授权代办",
            code="forbidden",
        )
    return legal


def describe(row: DelegationRow, uscc: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "legal_subject": row.legal_account_id,
        "uscc": uscc,
        "agent_subject": row.agent_account_id,
        "scopes": list(row.scopes or []),
        "starts_at": row.starts_at.isoformat(),
        "ends_at": row.ends_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


async def grant(
    core: IdentityCore,
    principal: Principal,
    uscc: str,
    *,
    agent_id_number: str,
    scopes: list[str],
    ends_at: datetime,
) -> dict[str, Any]:
    now = utcnow()
    if ends_at.tzinfo is None:
        raise Problem(422, "ends_at needs a timezone offset")
    if ends_at <= now:
        raise Problem(422, "ends_at must lie in the future")
    async with core.db.transaction() as session:
        legal = await _granting_representative(session, principal, uscc)
        # Only a verified account can be the agent: an unverified claim of the number may
        # be a squatter's.
        agent = await accounts.verified_natural_account(session, core, agent_id_number)
        if agent is None:
            raise Problem(404, "no verified natural person with this ID number")
        row = DelegationRow(
            id=new_id("dg"),
            legal_account_id=legal.account_id,
            agent_account_id=agent.id,
            scopes=sorted(set(scopes)),
            starts_at=now,
            ends_at=ends_at,
            granted_by=principal.subject,
        )
        session.add(row)
        await session.flush()
        body = describe(row, legal.uscc)
        await audit.delegation_changed(
            session, core, change="granted", data={**body, "by": principal.subject}
        )
    return body


async def revoke(
    core: IdentityCore, principal: Principal, uscc: str, delegation_id: str
) -> dict[str, Any]:
    async with core.db.transaction() as session:
        legal = await _legal_administered_by(session, principal, uscc)
        row = await repo.delegation(session, delegation_id)
        if row is None or row.legal_account_id != legal.account_id:
            raise Problem(404, "no such authorisation")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            body = describe(row, legal.uscc)
            await audit.delegation_changed(
                session, core, change="revoked", data={**body, "by": principal.subject}
            )
        return describe(row, legal.uscc)


async def list_for(core: IdentityCore, principal: Principal, uscc: str) -> list[dict[str, Any]]:
    async with core.db.sessionmaker() as session:
        legal = await _legal_administered_by(session, principal, uscc)
        return [
            describe(r, legal.uscc) for r in await repo.delegations_of(session, legal.account_id)
        ]
