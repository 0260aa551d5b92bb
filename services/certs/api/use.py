"""授权用证: holders grant/revoke (``/v1/me/authorizations``) and read the use log; orgs'
systems (scope ``certs:use``, registered for the org) use certificates (``/v1/use``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status

from services.certs.api.deps import CertificateId, ContextDep
from services.certs.api.schemas import (
    AuthorizationIn,
    AuthorizationList,
    AuthorizationOut,
    CertificateDetail,
    CertificateDetailList,
    FileLink,
    LookupIn,
    UseIn,
    UseList,
    problems,
)
from services.certs.service import use
from services.runtime.auth import Principal, require_active_token
from services.runtime.deps import DbDep, ReadSession

router = APIRouter(prefix="/v1", tags=["use"])

# Consent and use are revocation-sensitive: the token must still be active at identity.
Holder = Annotated[Principal, Depends(require_active_token(assurance="L3"))]
UsingSystem = Annotated[Principal, Depends(require_active_token("certs:use"))]


@router.post(
    "/me/authorizations",
    response_model=AuthorizationOut,
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 422),
    summary="授权用证: authorise an org to use a certificate for a stated purpose and period",
)
async def grant(
    body: AuthorizationIn, principal: Holder, ctx: ContextDep, db: DbDep
) -> dict[str, Any]:
    return await use.grant(ctx, db, principal, use.GrantIn(**body.model_dump()))


@router.get(
    "/me/authorizations",
    response_model=AuthorizationList,
    responses=problems(401, 403),
    summary="The caller's authorisations (active, scheduled, expired, revoked)",
)
async def my_authorizations(principal: Holder, session: ReadSession) -> dict[str, Any]:
    return {"items": await use.my_authorizations(session, principal)}


@router.delete(
    "/me/authorizations/{authorization_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404),
    summary="撤销授权: the next fetch under it is refused",
)
async def revoke(
    authorization_id: Annotated[str, Path(max_length=32, pattern="^[0-9a-f]{1,32}$")],
    principal: Holder,
    db: DbDep,
) -> Response:
    await use.revoke(db, principal, authorization_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/me/certificates/{certificate_id}/uses",
    response_model=UseList,
    responses=problems(401, 403, 404),
    summary="用证记录: every use of the certificate (all versions), allowed or refused",
)
async def my_uses(
    certificate_id: CertificateId, principal: Holder, session: ReadSession
) -> dict[str, Any]:
    return {"items": await use.my_uses(session, principal, certificate_id)}


@router.get(
    "/use/certificates/{certificate_id}",
    response_model=CertificateDetail,
    responses=problems(401, 403, 404, 422),
    summary="Use a certificate by 证照标识 under the holder's authorisation (logged)",
)
async def use_certificate(
    certificate_id: CertificateId,
    system: UsingSystem,
    ctx: ContextDep,
    db: DbDep,
    use_cause: Annotated[
        str,
        Query(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]+$", description="用证事由"),
    ],
    case_no: Annotated[str | None, Query(pattern="^[0-9A-Z]{43}$")] = None,
    matter_code: Annotated[
        str | None, Query(min_length=1, max_length=64, pattern="^[0-9A-Za-z.-]+$")
    ] = None,
    org_uscc: Annotated[str | None, Query(pattern="^[0-9A-Z]{18}$")] = None,
) -> dict[str, Any]:
    body = use.UseIn(use_cause, case_no, matter_code, org_uscc)
    return await use.use_certificate(ctx, db, system, certificate_id, body)


@router.post(
    "/use/lookup",
    response_model=CertificateDetailList,
    responses=problems(401, 403, 404, 422),
    summary="Use the holder's certificates of one type, by holder ID (in the body) + type",
)
async def lookup(body: LookupIn, system: UsingSystem, ctx: ContextDep, db: DbDep) -> dict[str, Any]:
    req = use.UseIn(body.use_cause, body.case_no, body.matter_code, body.org_uscc)
    items = await use.lookup(
        ctx, db, system, body.holder_id_type, body.holder_id, body.type_code, req
    )
    return {"items": items}


@router.post(
    "/use/certificates/{certificate_id}/file",
    response_model=FileLink,
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 422),
    summary="加注件: a use whose result is a single-use, expiring link to the watermarked PDF",
)
async def file_link(
    certificate_id: CertificateId, body: UseIn, system: UsingSystem, ctx: ContextDep, db: DbDep
) -> dict[str, Any]:
    req = use.UseIn(body.use_cause, body.case_no, body.matter_code, body.org_uscc)
    return await use.file_link(ctx, db, system, certificate_id, req)


@router.get(
    "/use/files/{token}",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "the 加注件 PDF"},
        **problems(404),
    },
    summary="Download a 加注件 once (the link is the capability; it expires)",
)
async def download(
    token: Annotated[str, Path(min_length=20, max_length=64, pattern="^[A-Za-z0-9_-]+$")],
    ctx: ContextDep,
    db: DbDep,
) -> Response:
    body = await use.download(ctx, db, token)
    return Response(
        body,
        media_type="application/pdf",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
