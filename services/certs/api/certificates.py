"""Issuer staff (role ``certs-issuer``, L3+): issue, read, lifecycle, pending queue."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response, status

from services.certs.api.deps import CertificateId, ContextDep, IssuerStaff, PendingReader
from services.certs.api.schemas import (
    CertificateDetail,
    ChangeIn,
    FaceIn,
    InspectionIn,
    IssueIn,
    PendingList,
    ReasonIn,
    StaffCertificate,
    problems,
)
from services.certs.service import issuance, lifecycle, reading
from services.certs.service.context import local_date
from services.certs.store import repository as repo
from services.runtime.db import utcnow
from services.runtime.deps import DbDep, ReadSession

router = APIRouter(prefix="/v1", tags=["issuing"])


async def _detail(ctx: Any, db: Any, cid: str) -> dict[str, Any]:
    async with db.sessionmaker() as session:
        row = await repo.get_certificate(session, cid)
        return reading.detail(ctx, row, local_date(utcnow()))


@router.post(
    "/certificates",
    response_model=CertificateDetail,
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 409, 422),
    summary="Issue a certificate for the caller's org (idempotent per case_no)",
)
async def issue(
    body: IssueIn, staff: IssuerStaff, ctx: ContextDep, db: DbDep, response: Response
) -> dict[str, Any]:
    row, created = await issuance.issue_by_staff(
        ctx, db, staff, body.type_code, body.face, body.case_no
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return reading.detail(ctx, row, local_date(utcnow()))


@router.get(
    "/certificates/{certificate_id}",
    response_model=StaffCertificate,
    responses=problems(401, 403, 404),
    summary="A certificate of the caller's org, with its history",
)
async def get_certificate(
    certificate_id: CertificateId, staff: IssuerStaff, ctx: ContextDep, session: ReadSession
) -> dict[str, Any]:
    return await reading.staff_certificate(ctx, session, staff, certificate_id)


@router.post(
    "/certificates/{certificate_id}/inspections",
    response_model=StaffCertificate,
    responses=problems(401, 403, 404, 409, 422),
    summary="Record a 年检 result",
)
async def inspection(
    certificate_id: CertificateId,
    body: InspectionIn,
    staff: IssuerStaff,
    ctx: ContextDep,
    db: DbDep,
    session: ReadSession,
) -> dict[str, Any]:
    await lifecycle.inspect(ctx, db, staff, certificate_id, body.passed)
    return await reading.staff_certificate(ctx, session, staff, certificate_id)


@router.post(
    "/certificates/{certificate_id}/versions",
    response_model=CertificateDetail,
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 409, 422),
    summary="变更: issue a new version that supersedes this one",
)
async def new_version(
    certificate_id: CertificateId, body: ChangeIn, staff: IssuerStaff, ctx: ContextDep, db: DbDep
) -> dict[str, Any]:
    row = await lifecycle.new_version(ctx, db, staff, certificate_id, body.face, body.reason)
    return reading.detail(ctx, row, local_date(utcnow()))


@router.get(
    "/pending",
    response_model=PendingList,
    responses=problems(401, 403),
    summary="Concluded 办件 not issued yet: the caller's org's (certs-admin: all)",
)
async def pending(staff: PendingReader, ctx: ContextDep, session: ReadSession) -> dict[str, Any]:
    org = None if staff.has_role("certs-admin") else staff.uscc
    rows = await repo.pending_of_org(session, org, "pending")
    items = []
    for r in rows:
        data, errors = issuance.pending_detail(ctx, r)
        items.append(
            {
                "id": r.id,
                "case_no": r.case_no,
                "type_code": r.type_code,
                "issuer_uscc": r.issuer_uscc,
                "reason": r.reason,
                "errors": errors,
                "data": data,
                "created_at": r.created_at,
            }
        )
    return {"items": items}


@router.post(
    "/pending/{pending_id}/issue",
    response_model=CertificateDetail,
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 409, 422),
    summary="Complete a pending issuance with corrected 照面 data",
)
async def complete_pending(
    pending_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: FaceIn,
    staff: IssuerStaff,
    ctx: ContextDep,
    db: DbDep,
) -> dict[str, Any]:
    row = await issuance.complete_pending(ctx, db, staff, pending_id, body.face)
    return reading.detail(ctx, row, local_date(utcnow()))


# Last: the fixed sub-paths above must match before {action}.
@router.post(
    "/certificates/{certificate_id}/{action}",
    response_model=StaffCertificate,
    responses=problems(401, 403, 404, 409, 422),
    summary="挂失/暂停 (suspend), 恢复 (resume), 注销 (cancel), 吊销 (revoke), with a reason",
)
async def change_status(
    certificate_id: CertificateId,
    action: Literal["suspend", "resume", "cancel", "revoke"],
    body: ReasonIn,
    staff: IssuerStaff,
    ctx: ContextDep,
    db: DbDep,
    session: ReadSession,
) -> dict[str, Any]:
    await lifecycle.change_status(ctx, db, staff, certificate_id, action, body.reason)
    return await reading.staff_certificate(ctx, session, staff, certificate_id)
