"""证照目录: public ``/v1/types``; staff ``certs-admin`` add type versions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from services.certs.api.deps import CatalogueAdmin
from services.certs.api.schemas import CertificateTypeIn, CertificateTypeOut, TypeList, problems
from services.certs.service import catalogue
from services.runtime.deps import DbDep, ReadSession

router = APIRouter(prefix="/v1/types", tags=["types"])

TypeCode = Annotated[str, Path(max_length=21, description="证照类型代码")]


@router.get("", response_model=TypeList, summary="The 证照目录 (latest version of each type)")
async def list_types(session: ReadSession) -> dict[str, Any]:
    return {"items": [t.to_json() for t in await catalogue.list_types(session)]}


@router.get(
    "/{type_code}",
    response_model=CertificateTypeOut,
    responses=problems(404),
    summary="One type with its 照面 JSON Schema",
)
async def get_type(
    type_code: TypeCode,
    session: ReadSession,
    version: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> dict[str, Any]:
    return (await catalogue.require_type(session, type_code, version)).to_json()


@router.post(
    "",
    response_model=CertificateTypeOut,
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 409, 422),
    summary="Add a type version (staff role certs-admin)",
)
async def add_type(body: CertificateTypeIn, admin: CatalogueAdmin, db: DbDep) -> dict[str, Any]:
    definition = body.model_dump()
    if body.validity is None:
        definition["validity"] = None
    cert_type = await catalogue.add_version(db, definition, admin.subject)
    return cert_type.to_json()
