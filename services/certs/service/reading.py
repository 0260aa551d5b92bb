"""Read use cases: the holder view, staff view, public keys, status lists and verification."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.certs.domain.canonical import CertificateVersion, HolderIdType, canonical_json
from services.certs.domain.qr_payload import QrPayloadError, decode_qr, verify_qr
from services.certs.domain.signing import CertificateSignature, sign_bytes, verify_version
from services.certs.domain.status_list import (
    StatusList,
    StatusPurpose,
    status_list_credential_subject,
    status_list_entry,
)
from services.certs.service.context import CertsContext, local_date
from services.certs.service.issuance import decrypt_face
from services.certs.service.keys import (
    issuer_for_signing,
    public_key,
    require_issuer,
    signing_key,
)
from services.certs.store import repository as repo
from services.certs.store.tables import CertificateRow
from services.runtime.auth import Principal
from services.runtime.db import Database, utcnow
from services.runtime.problems import Problem


def effective_status(row: CertificateRow, today: dt.date) -> str:
    """The status a verifier must see today: 过期 applies from the dates even before the sweep."""
    live = row.status in ("valid", "suspended")
    if live and row.valid_until is not None and today > row.valid_until:
        return "expired"
    return row.status


def summary(ctx: CertsContext, row: CertificateRow, today: dt.date) -> dict[str, Any]:
    return {
        "certificate_id": row.certificate_id,
        "type_code": row.type_code,
        "name": row.name,
        "number": row.number,
        "issuer_uscc": row.issuer_uscc,
        "issuer_name": row.issuer_name,
        "version": row.version,
        "status": effective_status(row, today),
        "holder_name_masked": row.holder_name_masked,
        "holder_id_masked": row.holder_id_masked,
        "issued_on": row.issued_on,
        "valid_from": row.valid_from,
        "valid_until": row.valid_until,
        "superseded_by": row.superseded_by,
        "verify_url": ctx.verify_url(row.certificate_id),
    }


def document(ctx: CertsContext, row: CertificateRow) -> dict[str, Any]:
    """The signed document (metadata + 照面) as a verifier receives it, with its signature."""
    holder_name = ctx.cipher.decrypt(
        row.holder_name_enc, context=f"certs-holder:{row.certificate_id}"
    )
    holder_id = ctx.cipher.decrypt(row.holder_id_enc, context=f"certs-holder:{row.certificate_id}")
    version = CertificateVersion(
        certificate_id=row.certificate_id,
        type_code=row.type_code,
        name=row.name,
        number=row.number,
        issuer_uscc=row.issuer_uscc,
        issuer_name=row.issuer_name,
        issued_on=row.issued_on,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        holder_name=holder_name,
        holder_id_type=HolderIdType.CITIZEN_ID
        if row.holder_kind == "natural"
        else HolderIdType.USCC,
        holder_id=holder_id,
        version=row.version,
        face=decrypt_face(ctx, row),
    )
    return version.to_document() | {"signature": row.signature}


def detail(ctx: CertsContext, row: CertificateRow, today: dt.date) -> dict[str, Any]:
    return summary(ctx, row, today) | {
        "document": document(ctx, row),
        "qr_text": row.qr_text,
        "credential_status": [
            status_list_entry(ctx.status_list_url(row.issuer_uscc, str(p)), p, row.status_index)
            for p in StatusPurpose
        ],
    }


def _holder_key(principal: Principal) -> tuple[str, str] | None:
    if principal.subject_type == "natural" and principal.id_ref:
        return "natural", principal.id_ref
    if principal.subject_type == "legal" and principal.uscc:
        return "legal", principal.uscc  # an agent acting for the company holds its token (act)
    return None


def require_l3(principal: Principal) -> tuple[str, str] | None:
    if not principal.assurance_at_least("L3"):
        raise Problem(
            403, "certificates need a login at assurance level L3 or above", code="assurance"
        )
    return _holder_key(principal)


async def my_certificates(
    ctx: CertsContext, session: AsyncSession, principal: Principal
) -> list[dict[str, Any]]:
    key = require_l3(principal)
    if key is None:
        return []
    today = local_date(utcnow())
    return [summary(ctx, r, today) for r in await repo.holder_certificates(session, *key)]


def is_holder(row: CertificateRow, key: tuple[str, str] | None) -> bool:
    if key is None:
        return False
    return (row.holder_kind, row.holder_ref) == key or (
        row.applicant_kind,
        row.applicant_ref,
    ) == key


async def my_row(session: AsyncSession, principal: Principal, cid: str) -> CertificateRow:
    """One of the caller's certificates (holder, or applicant of another kind); else 404."""
    key = require_l3(principal)
    row = await repo.get_certificate(session, cid)
    if row is None or not is_holder(row, key):
        raise Problem(404, "no such certificate of yours", code="not-found")
    return row


async def my_certificate(
    ctx: CertsContext, session: AsyncSession, principal: Principal, cid: str
) -> dict[str, Any]:
    return detail(ctx, await my_row(session, principal, cid), local_date(utcnow()))


async def staff_certificate(
    ctx: CertsContext, session: AsyncSession, principal: Principal, cid: str
) -> dict[str, Any]:
    row = await repo.get_certificate(session, cid)
    if row is None or row.issuer_uscc != principal.uscc:
        raise Problem(404, "no such certificate of your org", code="not-found")
    out = detail(ctx, row, local_date(utcnow()))
    out["history"] = [
        {
            "transition": c.transition,
            "before": c.before,
            "after": c.after,
            "reason": c.reason,
            "actor": c.actor,
            "at": c.at,
        }
        for c in await repo.changes(session, cid)
    ]
    return out


async def issuer_keys(session: AsyncSession, uscc: str) -> dict[str, Any]:
    issuer = await require_issuer(session, uscc)
    keys = await repo.issuer_keys(session, uscc)
    return {
        "uscc": issuer.uscc,
        "name": issuer.name,
        "keys": [
            {
                "kid": k.kid,
                "alg": "SM2-SM3",
                "user_id": "1234567812345678",
                "public_key_pem": k.public_pem,
                "valid_from": k.valid_from,
                "valid_until": k.valid_until,
                "retired_at": k.retired_at,
                "current": k.kid == issuer.current_kid,
            }
            for k in keys
        ],
        "seal": {
            "name": issuer.seal_name,
            "kid": issuer.current_kid,
            "image_png_base64": _b64(issuer.seal_image_png),
            "valid_from": issuer.seal_valid_from,
            "valid_until": issuer.seal_valid_until,
        },
    }


def _b64(data: bytes | None) -> str | None:
    import base64

    return None if data is None else base64.b64encode(data).decode("ascii")


async def status_list_credential(
    ctx: CertsContext, db: Database, uscc: str, purpose: StatusPurpose
) -> dict[str, Any]:
    """The signed BitstringStatusListCredential of one issuer and purpose (cached per
    process until its bits or the signing key change)."""
    now = utcnow()
    async with db.sessionmaker() as session:
        issuer = await require_issuer(session, uscc)
        stored = await repo.status_list(session, uscc, str(purpose))
        if stored is None:
            raise Problem(404, "no such status list", code="not-found")
        version = (stored.updated_at, issuer.current_kid)
        cached = ctx.status_lists.get((uscc, str(purpose)))
        if cached is not None and cached[0] == version:
            return cached[1]
        key_row = await repo.get_key(session, issuer.current_kid or "")
    if key_row is None or key_row.valid_until <= now or key_row.retired_at is not None:
        async with db.transaction() as session:  # the current key has run out: make one
            _issuer, key = await issuer_for_signing(ctx, session, uscc, now)
    else:
        key = signing_key(ctx, key_row)
    url = ctx.status_list_url(uscc, str(purpose))
    bits = StatusList(purpose, stored.size, bits=stored.bits)
    ttl_ms = ctx.settings.certs_status_list_ttl_seconds * 1000
    credential: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": f"urn:uscc:{uscc}",
        "validFrom": stored.updated_at.isoformat(),
        "credentialSubject": status_list_credential_subject(url, purpose, bits, ttl_ms),
    }
    signature = sign_bytes(key.private_pem, key.public_pem, canonical_json(credential))
    # The proof signs the JCS form of the credential without "proof" (see docs/certs.md).
    signed = credential | {"proof": {"type": "SM2-SM3-JCS", **signature.to_json()}}
    ctx.status_lists[(uscc, str(purpose))] = (version, signed)
    return signed


# --- verification ---------------------------------------------------------------


def _outcome(
    ctx: CertsContext, row: CertificateRow | None, today: dt.date, reasons: list[str]
) -> dict[str, Any]:
    if row is None:
        return {"result": "unknown", "reasons": [*reasons, "not in the registry"]}
    status = effective_status(row, today)
    why = {
        "valid": "signature verified; not suspended, revoked or expired",
        "suspended": f"suspended (挂失/暂停 or 年检) since {row.updated_at.date().isoformat()}",
        "cancelled": "cancelled (注销) by the issuer",
        "revoked": "revoked (吊销) by the issuer",
        "expired": f"validity ended on {row.valid_until}",
        "superseded": f"superseded by version {row.superseded_by}",
    }[status]
    return {"result": status, "reasons": [*reasons, why]} | summary(ctx, row, today)


async def verify_qr_text(ctx: CertsContext, session: AsyncSession, text: str) -> dict[str, Any]:
    try:
        claims = decode_qr(text)
    except QrPayloadError as exc:
        return {"result": "invalid", "reasons": [f"QR payload: {exc} ({exc.reason})"]}
    pem = await public_key(session, claims.issuer_uscc, claims.key_id.hex())
    try:
        verify_qr(text, lambda _uscc, _kid: pem)
    except QrPayloadError as exc:
        return {"result": "invalid", "reasons": [f"QR payload: {exc} ({exc.reason})"]}
    row = await repo.get_certificate(session, claims.certificate_id)
    if row is not None and row.status_index != claims.status_index:
        return {"result": "invalid", "reasons": ["status index does not match the registry"]}
    return _outcome(ctx, row, local_date(utcnow()), ["QR signature verified offline-style"])


def _version_from(document: Mapping[str, Any]) -> CertificateVersion:
    try:
        m = document["metadata"]
        until = m["valid_until"]
        return CertificateVersion(
            certificate_id=str(m["certificate_id"]),
            type_code=str(m["type_code"]),
            name=str(m["name"]),
            number=str(m["number"]),
            issuer_uscc=str(m["issuer_uscc"]),
            issuer_name=str(m["issuer_name"]),
            issued_on=dt.date.fromisoformat(m["issued_on"]),
            valid_from=dt.date.fromisoformat(m["valid_from"]),
            valid_until=None if until is None else dt.date.fromisoformat(until),
            holder_name=str(m["holder_name"]),
            holder_id_type=HolderIdType(m["holder_id_type"]),
            holder_id=str(m["holder_id"]),
            version=int(m["version"]),
            face=dict(document["face"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise Problem(
            422, f"certificate JSON lacks or mistypes a field: {exc}", code="invalid-certificate"
        ) from exc


async def verify_document(
    ctx: CertsContext, session: AsyncSession, document: Mapping[str, Any]
) -> dict[str, Any]:
    version = _version_from(document)
    try:
        signature = CertificateSignature.from_json(document.get("signature"))  # type: ignore[arg-type]
    except ValueError as exc:
        raise Problem(422, str(exc), code="invalid-signature-format") from exc
    pem = await public_key(session, version.issuer_uscc, signature.key_id.hex())
    if pem is None:
        return {"result": "invalid", "reasons": ["no published key of this issuer has that kid"]}
    try:
        ok = verify_version(pem, version, signature)
    except ValueError as exc:
        return {"result": "invalid", "reasons": [f"cannot canonicalise: {exc}"]}
    if not ok:
        return {"result": "invalid", "reasons": ["signature does not verify"]}
    row = await repo.get_certificate(session, version.certificate_id)
    return _outcome(ctx, row, local_date(utcnow()), ["SM2 signature verified"])


async def public_status(ctx: CertsContext, session: AsyncSession, cid: str) -> dict[str, Any]:
    row = await repo.get_certificate(session, cid)
    if row is None:
        raise Problem(404, "no such certificate", code="not-found")
    return _outcome(ctx, row, local_date(utcnow()), [])
