"""Reading and writing the certs tables (query functions; no rules, no transactions)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.certs.store.tables import (
    AuthorizationRow,
    CertificateRow,
    ChangeRow,
    FileLinkRow,
    IssuerKeyRow,
    IssuerRow,
    PendingRow,
    StatusListRow,
    TypeRow,
    UseRow,
)


async def insert_if_absent(session: AsyncSession, row: object) -> bool:
    """Insert ``row`` unless its key exists (a concurrent writer may win): True if inserted."""
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def type_versions(session: AsyncSession, type_code: str) -> list[TypeRow]:
    stmt = select(TypeRow).where(TypeRow.type_code == type_code).order_by(TypeRow.version)
    return list((await session.execute(stmt)).scalars())


async def latest_type(session: AsyncSession, type_code: str) -> TypeRow | None:
    stmt = (
        select(TypeRow)
        .where(TypeRow.type_code == type_code)
        .order_by(TypeRow.version.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def latest_types(session: AsyncSession) -> list[TypeRow]:
    latest = (
        select(TypeRow.type_code, func.max(TypeRow.version).label("v"))
        .group_by(TypeRow.type_code)
        .subquery()
    )
    stmt = (
        select(TypeRow)
        .join(latest, (TypeRow.type_code == latest.c.type_code) & (TypeRow.version == latest.c.v))
        .order_by(TypeRow.type_code)
    )
    return list((await session.execute(stmt)).scalars())


async def lock_issuer(session: AsyncSession, uscc: str) -> IssuerRow | None:
    stmt = select(IssuerRow).where(IssuerRow.uscc == uscc).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_issuer(session: AsyncSession, uscc: str) -> IssuerRow | None:
    return await session.get(IssuerRow, uscc)


async def issuer_keys(session: AsyncSession, uscc: str) -> list[IssuerKeyRow]:
    stmt = (
        select(IssuerKeyRow)
        .where(IssuerKeyRow.org_uscc == uscc)
        .order_by(IssuerKeyRow.valid_from, IssuerKeyRow.kid)
    )
    return list((await session.execute(stmt)).scalars())


async def get_key(session: AsyncSession, kid: str) -> IssuerKeyRow | None:
    return await session.get(IssuerKeyRow, kid)


async def get_certificate(
    session: AsyncSession, certificate_id: str, *, lock: bool = False
) -> CertificateRow | None:
    stmt = select(CertificateRow).where(CertificateRow.certificate_id == certificate_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def certificate_for_case(session: AsyncSession, case_no: str) -> CertificateRow | None:
    stmt = select(CertificateRow).where(CertificateRow.case_no == case_no)
    return (await session.execute(stmt)).scalar_one_or_none()


async def holder_certificates(
    session: AsyncSession, holder_kind: str, holder_ref: str
) -> Sequence[CertificateRow]:
    as_holder = (CertificateRow.holder_kind == holder_kind) & (
        CertificateRow.holder_ref == holder_ref
    )
    as_applicant = (CertificateRow.applicant_kind == holder_kind) & (
        CertificateRow.applicant_ref == holder_ref
    )
    stmt = (
        select(CertificateRow)
        .where(as_holder | as_applicant)
        .order_by(CertificateRow.issued_on.desc(), CertificateRow.certificate_id)
    )
    return list((await session.execute(stmt)).scalars())


async def count_indices(session: AsyncSession, issuer_uscc: str) -> int:
    stmt = select(func.count()).where(CertificateRow.issuer_uscc == issuer_uscc)
    return int(await session.scalar(stmt) or 0)


async def indices_taken(session: AsyncSession, issuer_uscc: str, indices: set[int]) -> set[int]:
    stmt = select(CertificateRow.status_index).where(
        CertificateRow.issuer_uscc == issuer_uscc, CertificateRow.status_index.in_(indices)
    )
    return set((await session.execute(stmt)).scalars())


async def status_list(
    session: AsyncSession, issuer_uscc: str, purpose: str, *, lock: bool = False
) -> StatusListRow | None:
    stmt = select(StatusListRow).where(
        StatusListRow.issuer_uscc == issuer_uscc, StatusListRow.purpose == purpose
    )
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def changes(session: AsyncSession, certificate_id: str) -> list[ChangeRow]:
    stmt = (
        select(ChangeRow).where(ChangeRow.certificate_id == certificate_id).order_by(ChangeRow.id)
    )
    return list((await session.execute(stmt)).scalars())


async def pending_for_case(session: AsyncSession, case_no: str) -> PendingRow | None:
    stmt = select(PendingRow).where(PendingRow.case_no == case_no)
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_pending(session: AsyncSession, pending_id: int) -> PendingRow | None:
    stmt = select(PendingRow).where(PendingRow.id == pending_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def pending_of_org(
    session: AsyncSession, issuer_uscc: str | None, status: str
) -> Sequence[PendingRow]:
    stmt = select(PendingRow).where(PendingRow.status == status).order_by(PendingRow.id)
    if issuer_uscc is not None:
        stmt = stmt.where(PendingRow.issuer_uscc == issuer_uscc)
    return list((await session.execute(stmt.limit(500))).scalars())


# --- 授权用证 and the use log ----------------------------------------------------


async def holder_authorizations(
    session: AsyncSession, holder_kind: str, holder_ref: str
) -> list[AuthorizationRow]:
    stmt = (
        select(AuthorizationRow)
        .where(AuthorizationRow.holder_kind == holder_kind)
        .where(AuthorizationRow.holder_ref == holder_ref)
        .order_by(AuthorizationRow.created_at.desc(), AuthorizationRow.id)
    )
    return list((await session.execute(stmt)).scalars())


async def lock_authorization(session: AsyncSession, auth_id: str) -> AuthorizationRow | None:
    stmt = select(AuthorizationRow).where(AuthorizationRow.id == auth_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def grants_for(
    session: AsyncSession, holder_kind: str, holder_ref: str, org_uscc: str
) -> list[AuthorizationRow]:
    stmt = (
        select(AuthorizationRow)
        .where(AuthorizationRow.holder_kind == holder_kind)
        .where(AuthorizationRow.holder_ref == holder_ref)
        .where(AuthorizationRow.org_uscc == org_uscc)
        .order_by(AuthorizationRow.created_at, AuthorizationRow.id)
    )
    return list((await session.execute(stmt)).scalars())


async def holder_certificates_of_type(
    session: AsyncSession, holder_kind: str, holder_ref: str, type_code: str
) -> list[CertificateRow]:
    """The holder's current versions (not superseded) of one type."""
    stmt = (
        select(CertificateRow)
        .where(CertificateRow.holder_kind == holder_kind)
        .where(CertificateRow.holder_ref == holder_ref)
        .where(CertificateRow.type_code == type_code)
        .where(CertificateRow.superseded_by.is_(None))
        .order_by(CertificateRow.issued_on.desc(), CertificateRow.certificate_id)
    )
    return list((await session.execute(stmt.limit(50))).scalars())


async def uses(session: AsyncSession, lineage: str, limit: int = 500) -> list[UseRow]:
    stmt = select(UseRow).where(UseRow.lineage == lineage).order_by(UseRow.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def take_file_link(
    session: AsyncSession, token_hash: str, now: datetime
) -> FileLinkRow | None:
    """Mark an unused, unexpired link used and return it; None if it was not (single use,
    decided by one conditional UPDATE so two concurrent downloads cannot both win)."""
    stmt = (
        update(FileLinkRow)
        .where(FileLinkRow.token_hash == token_hash)
        .where(FileLinkRow.used_at.is_(None))
        .where(FileLinkRow.expires_at > now)
        .values(used_at=now)
        .returning(FileLinkRow)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def current_by_number(
    session: AsyncSession, type_code: str, issuer_uscc: str, number: str
) -> CertificateRow | None:
    """The current version of the certificate with this 证照编号 (存量 import: once only)."""
    stmt = (
        select(CertificateRow)
        .where(CertificateRow.type_code == type_code)
        .where(CertificateRow.issuer_uscc == issuer_uscc)
        .where(CertificateRow.number == number)
        .where(CertificateRow.superseded_by.is_(None))
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()
