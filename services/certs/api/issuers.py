"""Issuer keys, seals and status lists (public), and key rotation (issuer staff)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from services.certs.api.deps import ContextDep, IssuerStaff
from services.certs.api.schemas import IssuerKey, IssuerKeys, StatusListCredential, problems
from services.certs.domain.status_list import StatusPurpose
from services.certs.service import keys, reading
from services.runtime.db import utcnow
from services.runtime.deps import DbDep, ReadSession
from services.runtime.problems import Problem

router = APIRouter(prefix="/v1", tags=["issuers"])

Uscc = Annotated[str, Path(pattern="^[0-9A-Z]{18}$", description="颁发机构 USCC")]


@router.get(
    "/issuers/{uscc}/keys",
    response_model=IssuerKeys,
    responses=problems(404, 422),
    summary="An issuer's SM2 public keys with validity, and its seal record (public)",
)
async def issuer_keys(uscc: Uscc, session: ReadSession) -> dict[str, Any]:
    return await reading.issuer_keys(session, uscc)


@router.post(
    "/issuers/{uscc}/keys/rotate",
    response_model=IssuerKey,
    responses=problems(401, 403, 422),
    summary="Rotate the org's signing key (the old one stays published)",
)
async def rotate_key(uscc: Uscc, staff: IssuerStaff, ctx: ContextDep, db: DbDep) -> dict[str, Any]:
    if staff.uscc != uscc:
        raise Problem(403, "staff rotate their own org's key only", code="forbidden")
    async with db.transaction() as session:
        row = await keys.rotate(ctx, session, uscc, utcnow())
        return {
            "kid": row.kid,
            "alg": "SM2-SM3",
            "user_id": "1234567812345678",
            "public_key_pem": row.public_pem,
            "valid_from": row.valid_from,
            "valid_until": row.valid_until,
            "retired_at": row.retired_at,
            "current": True,
        }


@router.get(
    "/status-lists/{uscc}/{purpose}",
    response_model=StatusListCredential,
    responses=problems(404, 422),
    summary="Signed Bitstring Status List of an issuer (Cache-Control max-age = ttl)",
)
async def status_list(
    uscc: Uscc, purpose: StatusPurpose, ctx: ContextDep, db: DbDep
) -> JSONResponse:
    credential = await reading.status_list_credential(ctx, db, uscc, purpose)
    ttl = ctx.settings.certs_status_list_ttl_seconds
    return JSONResponse(credential, headers={"Cache-Control": f"public, max-age={ttl}"})
