"""Issuance use cases (证照颁发): from a concluded 办件, by staff, and from the pending queue.

Idempotent per 办件: ``certificates.case_no`` and ``pending_issuance.case_no`` are unique,
and a re-delivered ``hub.case.concluded`` finds the certificate (or the queue row) and stops.
Data that does not validate is never dropped: it waits in the pending queue for staff."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.certs.domain.canonical import CertificateVersion, HolderIdType, canonical_json
from services.certs.domain.identifiers import make_certificate_id
from services.certs.domain.issuance import IssuanceError, prepare_version
from services.certs.domain.lifecycle import initial_state
from services.certs.domain.qr_payload import encode_qr, mask_holder
from services.certs.domain.signing import sign_version
from services.certs.domain.status_list import StatusList, StatusPurpose
from services.certs.domain.types import CertificateType
from services.certs.events import facts
from services.certs.service import catalogue
from services.certs.service.context import CertsContext, local_date
from services.certs.service.keys import SigningKey, issuer_for_signing
from services.certs.store import repository as repo
from services.certs.store.tables import CertificateRow, ChangeRow, IssuerRow, PendingRow
from services.runtime.auth import Principal
from services.runtime.db import Database, utcnow
from services.runtime.pii import citizen_id_ref
from services.runtime.problems import Problem


def face_context(certificate_id: str) -> str:
    return f"certs-face:{certificate_id}"


def decrypt_face(ctx: CertsContext, row: CertificateRow) -> dict[str, Any]:
    face: dict[str, Any] = json.loads(
        ctx.cipher.decrypt(row.face_enc, context=face_context(row.certificate_id))
    )
    return face


def holder_ref(ctx: CertsContext, version: CertificateVersion) -> str:
    if version.holder_id_type is HolderIdType.CITIZEN_ID:
        return citizen_id_ref(ctx.cipher, version.holder_id)
    return version.holder_id


def lineage_of(certificate_id: str) -> str:
    # 1.2.156.3005.2.<type>.<issuer>.<serial>.<version>.<check>: the first three parts after
    # the root name the certificate across its versions.
    return ".".join(certificate_id.split(".")[5:8])


def new_serial(at: dt.datetime) -> str:
    # Random, not sequential: a 证照标识 reveals nothing about an issuer's volume.
    return f"{local_date(at).year}{secrets.randbelow(10**8):08d}"


async def grow_status_lists(
    session: AsyncSession, issuer_uscc: str, size: int, now: dt.datetime
) -> None:
    """Extend both lists of an issuer to ``size`` entries (new entries clear: not revoked)."""
    for purpose in StatusPurpose:
        stored = await repo.status_list(session, issuer_uscc, str(purpose), lock=True)
        assert stored is not None
        grown = StatusList(purpose, size, bits=stored.bits + bytes((size - stored.size) // 8))
        stored.bits, stored.size, stored.updated_at = grown.to_bytes(), grown.size, now


async def status_index(session: AsyncSession, issuer_uscc: str, now: dt.datetime) -> int:
    """A uniformly random free index of the issuer's lists (one index serves both).

    The same rule as :func:`~services.certs.domain.status_list.allocate_index`, without
    loading the used set: the lists are kept under half full (doubled when they reach it),
    so a few random probes, checked in one query, find a free index. The revocation list row
    is locked until commit, so two issuances of one issuer never take the same index (and the
    unique constraint says so if they tried)."""
    revocation = await repo.status_list(
        session, issuer_uscc, str(StatusPurpose.REVOCATION), lock=True
    )
    assert revocation is not None  # created with the issuer
    if (revocation.used + 1) * 2 >= revocation.size:
        await grow_status_lists(session, issuer_uscc, revocation.size * 2, now)
    while True:
        candidates = {secrets.randbelow(revocation.size) for _ in range(8)}
        free = candidates - await repo.indices_taken(session, issuer_uscc, candidates)
        if free:
            revocation.used += 1  # under the row lock, committed with the certificate
            return secrets.choice(sorted(free))


async def store_version(
    ctx: CertsContext,
    session: AsyncSession,
    cert_type: CertificateType,
    version: CertificateVersion,
    key: SigningKey,
    *,
    case_no: str | None,
    actor: str | None,
    now: dt.datetime,
) -> CertificateRow:
    """Sign a prepared version, give it a status-list index and store it with its history."""
    index = await status_index(session, version.issuer_uscc, now)
    signature = sign_version(key.private_pem, key.public_pem, version)
    qr = encode_qr(version, index, key.private_pem, key.public_pem, int(now.timestamp()))
    name_masked, id_masked = mask_holder(
        version.holder_name, version.holder_id, version.holder_id_type
    )
    state = initial_state(
        version.issued_on, version.valid_until, annual_inspection=cert_type.annual_inspection
    )
    cid = version.certificate_id
    row = CertificateRow(
        certificate_id=cid,
        lineage=lineage_of(cid),
        type_code=version.type_code,
        type_version=cert_type.version,
        name=version.name,
        number=version.number,
        issuer_uscc=version.issuer_uscc,
        issuer_name=version.issuer_name,
        version=version.version,
        holder_kind=str(cert_type.holder_kind),
        holder_ref=holder_ref(ctx, version),
        holder_name_enc=ctx.cipher.encrypt(version.holder_name, context=f"certs-holder:{cid}"),
        holder_id_enc=ctx.cipher.encrypt(version.holder_id, context=f"certs-holder:{cid}"),
        holder_name_masked=name_masked,
        holder_id_masked=id_masked,
        face_enc=ctx.cipher.encrypt(
            json.dumps(dict(version.face), ensure_ascii=False), context=face_context(cid)
        ),
        signature=signature.to_json(),
        qr_text=qr,
        status_index=index,
        status=str(state.status),
        suspension_reason=None,
        inspection_failed=False,
        inspection_due=state.inspection_due,
        annual_inspection=state.annual_inspection,
        issued_on=version.issued_on,
        valid_from=version.valid_from,
        valid_until=version.valid_until,
        case_no=case_no,
        superseded_by=None,
        issued_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.add(
        ChangeRow(
            certificate_id=cid,
            transition="issue",
            before=None,
            after=row.status,
            reason=f"办件 {case_no}" if case_no else None,
            actor=actor,
            actor_org=version.issuer_uscc,
            at=now,
        )
    )
    await session.flush()
    return row


def checked_face(face: Mapping[str, Any]) -> Mapping[str, Any]:
    """The 照面 if it has a canonical form (JSON parsing lets NaN and Infinity through)."""
    try:
        canonical_json(dict(face))
    except ValueError as exc:
        raise IssuanceError("face_invalid", f"照面 is not canonical JSON: {exc}") from exc
    return face


async def _prepare(
    ctx: CertsContext,
    session: AsyncSession,
    cert_type: CertificateType,
    issuer_uscc: str,
    face: Mapping[str, Any],
    now: dt.datetime,
    issued_on: dt.date | None = None,
) -> tuple[IssuerRow, SigningKey, CertificateVersion]:
    if not cert_type.may_issue(issuer_uscc):  # before any key is made for a stranger
        raise IssuanceError("issuer_not_allowed", f"this org may not issue {cert_type.name}")
    issuer, key = await issuer_for_signing(ctx, session, issuer_uscc, now)
    cid = make_certificate_id(cert_type.type_code, issuer_uscc, new_serial(now), 1)
    version = prepare_version(
        cert_type,
        certificate_id=cid,
        issuer_name=issuer.name,
        issued_on=issued_on or local_date(now),
        face=checked_face(face),
    )
    return issuer, key, version


async def issue(
    ctx: CertsContext,
    session: AsyncSession,
    cert_type: CertificateType,
    issuer_uscc: str,
    face: Mapping[str, Any],
    *,
    case_no: str | None,
    actor: str | None,
    now: dt.datetime,
    expected_holder: tuple[str, str] | None = None,
    issued_on: dt.date | None = None,
) -> CertificateRow:
    """Issue version 1; raises IssuanceError (the caller queues it or answers 422).
    ``issued_on``: the original 颁证日期 of a 存量证照 being imported (default today)."""
    _issuer, key, version = await _prepare(
        ctx, session, cert_type, issuer_uscc, face, now, issued_on
    )
    if expected_holder is not None:
        # Same kind: the 照面 must name the applicant. Another kind (a 个体户 operator
        # applying in person for a licence held by the business): the applicant sees it too.
        kind, ref = expected_holder
        if kind == str(cert_type.holder_kind) and ref != holder_ref(ctx, version):
            raise IssuanceError("holder_mismatch", "the 照面 names another holder than the 办件")
    row = await store_version(
        ctx, session, cert_type, version, key, case_no=case_no, actor=actor, now=now
    )
    if expected_holder is not None and expected_holder[0] != row.holder_kind:
        row.applicant_kind, row.applicant_ref = expected_holder
    await facts.issued(ctx.publish, session, row)
    return row


def _errors(exc: IssuanceError) -> list[dict[str, Any]]:
    if exc.errors:
        return [{"path": e.path, "message": e.message, "keyword": e.keyword} for e in exc.errors]
    return [{"path": "", "message": str(exc), "keyword": exc.reason}]


async def from_concluded_case(
    ctx: CertsContext,
    session: AsyncSession,
    data: Mapping[str, Any],
    now: dt.datetime | None = None,
) -> str:
    """Handle ``hub.case.concluded``: ``issued``, ``pending``, ``duplicate`` or ``ignored``."""
    now = now or utcnow()
    type_code = data.get("certificate_type")
    if data.get("decision") != "approved" or not type_code:
        return "ignored"
    case_no = str(data["case_no"])
    if await repo.certificate_for_case(session, case_no) is not None:
        return "duplicate"
    if await repo.pending_for_case(session, case_no) is not None:
        return "duplicate"
    issuer_uscc = (data.get("handler") or {}).get("org_uscc")
    applicant = data.get("applicant")
    face = data.get("certificate_data")
    cert_type = await catalogue.get_type(session, str(type_code))
    reason = ""
    errors: list[dict[str, Any]] = []
    if cert_type is None:
        reason = "unknown_type"
        errors = [{"path": "", "message": "type not in the catalogue", "keyword": reason}]
    elif not issuer_uscc:
        reason = "no_issuer"
        errors = [{"path": "", "message": "the 办件 names no handling org", "keyword": reason}]
    elif not isinstance(face, Mapping):
        reason = "face_invalid"
        errors = [{"path": "", "message": "no certificate_data", "keyword": "required"}]
    else:
        expected = (applicant["type"], applicant["id_ref"]) if applicant else None
        try:
            async with session.begin_nested():  # a refusal leaves no half-made rows
                await issue(
                    ctx,
                    session,
                    cert_type,
                    issuer_uscc,
                    face,
                    case_no=case_no,
                    actor=f"case:{case_no}",
                    now=now,
                    expected_holder=expected,
                )
            return "issued"
        except IssuanceError as exc:
            reason, errors = exc.reason, _errors(exc)
    # Error messages may quote the data (a malformed ID number): they are encrypted with it;
    # the clear column keeps only where and which rule.
    sealed = {"data": face, "errors": errors}
    session.add(
        PendingRow(
            case_no=case_no,
            type_code=str(type_code),
            issuer_uscc=issuer_uscc,
            applicant=dict(applicant) if applicant else None,
            data_enc=ctx.cipher.encrypt(
                json.dumps(sealed, ensure_ascii=False), context=f"certs-pending:{case_no}"
            ),
            reason=reason,
            errors=[{"path": e["path"], "keyword": e.get("keyword")} for e in errors],
            status="pending",
            created_at=now,
        )
    )
    await session.flush()
    return "pending"


def pending_detail(ctx: CertsContext, row: PendingRow) -> tuple[Any, list[dict[str, Any]]]:
    """The queued data and the full error messages (decrypted for the staff who fix them)."""
    if row.data_enc is None:
        return None, row.errors
    sealed = json.loads(ctx.cipher.decrypt(row.data_enc, context=f"certs-pending:{row.case_no}"))
    return sealed["data"], sealed["errors"]


def refused(exc: IssuanceError) -> Problem:
    status = 403 if exc.reason == "issuer_not_allowed" else 422
    return Problem(status, str(exc), code=exc.reason.replace("_", "-"), errors=_errors(exc))


async def issue_by_staff(
    ctx: CertsContext,
    db: Database,
    principal: Principal,
    type_code: str,
    face: Mapping[str, Any],
    case_no: str | None,
) -> tuple[CertificateRow, bool]:
    """Staff issue directly for their org; with a ``case_no`` it is idempotent per 办件."""
    assert principal.uscc is not None
    try:
        return await _issue_by_staff(ctx, db, principal, type_code, face, case_no)
    except IntegrityError as exc:  # the same 办件 issued concurrently: the other one won
        raise Problem(409, "issued concurrently; read it again", code="conflict") from exc


async def _issue_by_staff(
    ctx: CertsContext,
    db: Database,
    principal: Principal,
    type_code: str,
    face: Mapping[str, Any],
    case_no: str | None,
) -> tuple[CertificateRow, bool]:
    assert principal.uscc is not None
    now = utcnow()
    async with db.transaction() as session:
        if case_no is not None:
            existing = await repo.certificate_for_case(session, case_no)
            if existing is not None:
                if existing.issuer_uscc != principal.uscc:
                    raise Problem(
                        409, "this 办件 has a certificate of another org", code="conflict"
                    )
                return existing, False
        cert_type = await catalogue.require_type(session, type_code)
        try:
            row = await issue(
                ctx,
                session,
                cert_type,
                principal.uscc,
                face,
                case_no=case_no,
                actor=principal.subject,
                now=now,
            )
        except IssuanceError as exc:
            raise refused(exc) from exc
    return row, True


async def complete_pending(
    ctx: CertsContext,
    db: Database,
    principal: Principal,
    pending_id: int,
    face: Mapping[str, Any],
) -> CertificateRow:
    try:
        return await _complete_pending(ctx, db, principal, pending_id, face)
    except IntegrityError as exc:  # the 办件 got its certificate meanwhile
        raise Problem(409, "issued concurrently; read it again", code="conflict") from exc


async def _complete_pending(
    ctx: CertsContext,
    db: Database,
    principal: Principal,
    pending_id: int,
    face: Mapping[str, Any],
) -> CertificateRow:
    now = utcnow()
    async with db.transaction() as session:
        row = await repo.lock_pending(session, pending_id)
        if row is None or (row.issuer_uscc or principal.uscc) != principal.uscc:
            raise Problem(404, "no such pending issuance for your org", code="not-found")
        if row.status != "pending":
            raise Problem(409, "this issuance is already completed", code="conflict")
        cert_type = await catalogue.require_type(session, row.type_code)
        assert principal.uscc is not None
        expected = (row.applicant["type"], row.applicant["id_ref"]) if row.applicant else None
        try:
            cert = await issue(
                ctx,
                session,
                cert_type,
                principal.uscc,
                face,
                case_no=row.case_no,
                actor=principal.subject,
                now=now,
                expected_holder=expected,
            )
        except IssuanceError as exc:
            raise refused(exc) from exc
        row.status, row.certificate_id = "issued", cert.certificate_id
        row.resolved_by, row.resolved_at = principal.subject, now
    return cert
