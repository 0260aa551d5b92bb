"""证照目录 use cases: seed types, read them, add a type version (staff ``certs-admin``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.certs.domain.types import (
    SEED_CATALOGUE,
    CertificateType,
    InvalidCertificateType,
    type_definition,
    type_from_definition,
)
from services.certs.store import repository as repo
from services.certs.store.tables import TypeRow
from services.runtime.db import Database, utcnow
from services.runtime.problems import Problem


async def seed_types(db: Database) -> int:
    """Store the seed catalogue as version 1 of each type, once (idempotent)."""
    added = 0
    async with db.transaction() as session:
        for cert_type in SEED_CATALOGUE.values():
            if await repo.latest_type(session, cert_type.type_code) is not None:
                continue
            row = _row(cert_type, "seed")
            added += await repo.insert_if_absent(session, row)
    return added


def _row(cert_type: CertificateType, actor: str | None) -> TypeRow:
    return TypeRow(
        type_code=cert_type.type_code,
        version=cert_type.version,
        name=cert_type.name,
        definition=type_definition(cert_type),
        created_by=actor,
        created_at=utcnow(),
    )


# Parsed types by their stored definition. Building one checks its JSON Schema against the
# meta-schema (≈ 25 ms), which dominated issuance; a stored version never changes, and
# keying by the definition's text keeps the cache right whatever database it came from.
_PARSED: dict[str, CertificateType] = {}


def to_type(row: TypeRow) -> CertificateType:
    definition = row.definition | {"version": row.version}
    key = json.dumps(definition, sort_keys=True, ensure_ascii=False)
    parsed = _PARSED.get(key)
    if parsed is None:
        if len(_PARSED) >= 512:
            _PARSED.clear()
        parsed = _PARSED[key] = type_from_definition(definition)
    return parsed


async def get_type(
    session: AsyncSession, type_code: str, version: int | None = None
) -> CertificateType | None:
    if version is None:
        row = await repo.latest_type(session, type_code)
    else:
        row = next(
            (r for r in await repo.type_versions(session, type_code) if r.version == version),
            None,
        )
    return None if row is None else to_type(row)


async def require_type(
    session: AsyncSession, type_code: str, version: int | None = None
) -> CertificateType:
    cert_type = await get_type(session, type_code, version)
    if cert_type is None:
        raise Problem(404, f"no certificate type {type_code!r} in the catalogue", code="not-found")
    return cert_type


async def list_types(session: AsyncSession) -> list[CertificateType]:
    return [to_type(r) for r in await repo.latest_types(session)]


async def add_version(db: Database, definition: dict[str, Any], actor: str) -> CertificateType:
    """A new version of a type (or version 1 of a new type_code)."""
    async with db.transaction() as session:
        latest = await repo.latest_type(session, str(definition.get("type_code", "")))
        version = 1 if latest is None else latest.version + 1
        try:
            cert_type = type_from_definition(definition | {"version": version})
        except InvalidCertificateType as exc:
            raise Problem(422, str(exc), code="invalid-certificate-type") from exc
        if not await repo.insert_if_absent(session, _row(cert_type, actor)):
            raise Problem(409, "another version was added meanwhile; retry", code="conflict")
    return cert_type
