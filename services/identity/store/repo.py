"""Queries of the identity tables (no business rules here)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.store.tables import (
    Account,
    AuthorizationCode,
    BrowserSession,
    Client,
    DelegationRow,
    IssuedToken,
    LegalPerson,
    NaturalPerson,
    StaffMember,
)


async def account(session: AsyncSession, account_id: str) -> Account | None:
    return await session.get(Account, account_id)


async def verified_natural(session: AsyncSession, id_no_index: str) -> NaturalPerson | None:
    """The one account of an ID number that passed 实名核验 (or an operator vouched for)."""
    return (
        await session.scalars(
            select(NaturalPerson).where(
                NaturalPerson.id_no_index == id_no_index,
                NaturalPerson.realname_verified_at.is_not(None),
            )
        )
    ).first()


async def naturals_by_index(
    session: AsyncSession, id_no_index: str, limit: int
) -> list[NaturalPerson]:
    """The verified account of an ID number alone if there is one, else its unverified
    claims, newest first."""
    verified = await verified_natural(session, id_no_index)
    if verified is not None:
        return [verified]
    rows = await session.scalars(
        select(NaturalPerson)
        .join(Account, Account.id == NaturalPerson.account_id)
        .where(NaturalPerson.id_no_index == id_no_index)
        .order_by(Account.created_at.desc(), Account.id.desc())
        .limit(limit)
    )
    return list(rows.all())


async def natural_by_phone(session: AsyncSession, phone_index: str) -> NaturalPerson | None:
    return (
        await session.scalars(select(NaturalPerson).where(NaturalPerson.phone_index == phone_index))
    ).first()


async def legal_by_uscc(session: AsyncSession, uscc: str) -> LegalPerson | None:
    return (await session.scalars(select(LegalPerson).where(LegalPerson.uscc == uscc))).first()


async def account_by_username(session: AsyncSession, username: str) -> Account | None:
    return (await session.scalars(select(Account).where(Account.username == username))).first()


async def profile(
    session: AsyncSession, acc: Account
) -> NaturalPerson | LegalPerson | StaffMember | None:
    table = {"natural": NaturalPerson, "legal": LegalPerson, "staff": StaffMember}[acc.kind]
    return await session.get(table, acc.id)  # type: ignore[arg-type]


async def client(session: AsyncSession, client_id: str) -> Client | None:
    return await session.get(Client, client_id)


async def code(session: AsyncSession, code_hash: str) -> AuthorizationCode | None:
    return await session.get(AuthorizationCode, code_hash)


async def token_by_jti(session: AsyncSession, jti: str) -> IssuedToken | None:
    return await session.get(IssuedToken, jti)


async def token_by_refresh(session: AsyncSession, refresh_hash: str) -> IssuedToken | None:
    return (
        await session.scalars(select(IssuedToken).where(IssuedToken.refresh_hash == refresh_hash))
    ).first()


async def family_started(session: AsyncSession, family_id: str) -> datetime | None:
    """When the grant behind a refresh-token family was first issued."""
    return await session.scalar(
        select(func.min(IssuedToken.issued_at)).where(IssuedToken.family_id == family_id)
    )


async def revoke_family(session: AsyncSession, family_id: str, now: datetime) -> int:
    result = await session.execute(
        update(IssuedToken)
        .where(IssuedToken.family_id == family_id, IssuedToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def revoke_by_code(session: AsyncSession, code_hash: str, now: datetime) -> int:
    """Revoke every family that started from this authorization code."""
    families = (
        await session.scalars(
            select(IssuedToken.family_id).where(IssuedToken.code_hash == code_hash)
        )
    ).all()
    total = 0
    for family in set(families):
        total += await revoke_family(session, family, now)
    return total


async def revoke_by_session(session: AsyncSession, session_id: str, now: datetime) -> int:
    result = await session.execute(
        update(IssuedToken)
        .where(IssuedToken.session_id == session_id, IssuedToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def browser_session(session: AsyncSession, session_hash: str) -> BrowserSession | None:
    return await session.get(BrowserSession, session_hash)


async def delegation(session: AsyncSession, delegation_id: str) -> DelegationRow | None:
    return await session.get(DelegationRow, delegation_id)


async def active_delegation(
    session: AsyncSession, legal_account_id: str, agent_account_id: str, now: datetime
) -> DelegationRow | None:
    return (
        await session.scalars(
            select(DelegationRow)
            .where(
                DelegationRow.legal_account_id == legal_account_id,
                DelegationRow.agent_account_id == agent_account_id,
                DelegationRow.revoked_at.is_(None),
                DelegationRow.starts_at <= now,
                DelegationRow.ends_at > now,
            )
            .order_by(DelegationRow.created_at.desc())
        )
    ).first()


async def delegations_of(session: AsyncSession, legal_account_id: str) -> list[DelegationRow]:
    return list(
        (
            await session.scalars(
                select(DelegationRow)
                .where(DelegationRow.legal_account_id == legal_account_id)
                .order_by(DelegationRow.created_at)
            )
        ).all()
    )


async def nonce_used(session: AsyncSession, client_id: str, nonce: str) -> bool:
    row = (
        await session.scalars(
            select(AuthorizationCode.code_hash)
            .where(AuthorizationCode.client_id == client_id, AuthorizationCode.nonce == nonce)
            .limit(1)
        )
    ).first()
    return row is not None
