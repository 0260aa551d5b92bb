"""Holder view (持证人): ``/v1/me/certificates`` at L3 or above; others' certificates are 404."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from services.certs.api.deps import CertificateId, ContextDep
from services.certs.api.schemas import CertificateDetail, CertificateList, problems
from services.certs.service import pdf, reading
from services.runtime.auth import CurrentPrincipal
from services.runtime.deps import ReadSession

router = APIRouter(prefix="/v1/me", tags=["holders"])


@router.get(
    "/certificates",
    response_model=CertificateList,
    responses=problems(401, 403),
    summary="The caller's certificates (natural person by ID, legal person by USCC)",
)
async def my_certificates(
    principal: CurrentPrincipal, ctx: ContextDep, session: ReadSession
) -> dict[str, Any]:
    return {"items": await reading.my_certificates(ctx, session, principal)}


@router.get(
    "/certificates/{certificate_id}",
    response_model=CertificateDetail,
    responses=problems(401, 403, 404),
    summary="One of the caller's certificates with 照面, signature and QR text",
)
async def my_certificate(
    certificate_id: CertificateId,
    principal: CurrentPrincipal,
    ctx: ContextDep,
    session: ReadSession,
) -> dict[str, Any]:
    return await reading.my_certificate(ctx, session, principal, certificate_id)


@router.get(
    "/certificates/{certificate_id}/pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "the certificate as PDF"},
        **problems(401, 403, 404),
    },
    summary="One of the caller's certificates as PDF: 照面, seal image and 2-D code",
)
async def my_certificate_pdf(
    certificate_id: CertificateId,
    principal: CurrentPrincipal,
    ctx: ContextDep,
    session: ReadSession,
) -> Response:
    row = await reading.my_row(session, principal, certificate_id)
    body = await pdf.certificate_pdf(ctx, session, row)
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": 'attachment; filename="certificate.pdf"',
            "Cache-Control": "no-store",
        },
    )
