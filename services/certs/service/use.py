"""授权用证 use cases: holders grant and revoke; orgs' systems use under a grant; every
attempt is logged for the holder (用证记录), allowed uses are also ``hub.cert.used`` facts.

The calling org comes from the token, never from the request: identity puts the orgs a client
was registered for (``hub systems onboard --org``) in its client-credentials tokens as the
``orgs`` claim. A request may name one of them (``org_uscc``) when the system serves several.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.certs.domain.use import AuthorizationError, Grant, UseRequest, check_period, decide
from services.certs.events import facts
from services.certs.service import pdf
from services.certs.service.context import CertsContext, local_date
from services.certs.service.reading import detail, is_holder, require_l3
from services.certs.store import repository as repo
from services.certs.store.tables import AuthorizationRow, CertificateRow, FileLinkRow, UseRow
from services.runtime.auth import Principal
from services.runtime.db import Database, utcnow
from services.runtime.identifiers import InvalidIdentifier, validate_citizen_id, validate_uscc
from services.runtime.pii import citizen_id_ref
from services.runtime.problems import Problem

DEFAULT_PERIOD = dt.timedelta(days=30)
NOT_USABLE = "no certificate you may use under that 用证事由"


@dataclass(frozen=True)
class GrantIn:
    org_uscc: str
    use_cause: str
    certificate_id: str | None = None
    type_code: str | None = None
    case_no: str | None = None
    matter_code: str | None = None
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None


@dataclass(frozen=True)
class UseIn:
    use_cause: str
    case_no: str | None = None
    matter_code: str | None = None
    org_uscc: str | None = None


def _holder(principal: Principal) -> tuple[str, str]:
    key = require_l3(principal)
    if key is None:
        raise Problem(403, "only a natural or legal person grants 授权用证", code="forbidden")
    return key


def authorization_out(row: AuthorizationRow, now: dt.datetime) -> dict[str, Any]:
    if row.revoked_at is not None:
        state = "revoked"
    elif now >= row.valid_until:
        state = "expired"
    elif now < row.valid_from:
        state = "scheduled"
    else:
        state = "active"
    return {
        "id": row.id,
        "org_uscc": row.org_uscc,
        "use_cause": row.use_cause,
        "lineage": row.lineage,
        "type_code": row.type_code,
        "case_no": row.case_no,
        "matter_code": row.matter_code,
        "valid_from": row.valid_from,
        "valid_until": row.valid_until,
        "state": state,
        "created_at": row.created_at,
        "revoked_at": row.revoked_at,
    }


async def grant(
    ctx: CertsContext, db: Database, principal: Principal, body: GrantIn
) -> dict[str, Any]:
    """授权: the holder (≥ L3; an agent with the company's ``act`` token) consents."""
    kind, ref = _holder(principal)
    try:
        org = validate_uscc(body.org_uscc)
    except InvalidIdentifier as exc:
        raise Problem(422, str(exc), code="invalid-uscc") from exc
    if (body.certificate_id is None) == (body.type_code is None):
        raise Problem(
            422, "name exactly one of certificate_id or type_code", code="invalid-authorization"
        )
    now = utcnow()
    valid_from = body.valid_from or now
    valid_until = body.valid_until or valid_from + DEFAULT_PERIOD
    try:
        check_period(valid_from, valid_until, now)
    except AuthorizationError as exc:
        raise Problem(422, str(exc), code=f"invalid-{exc.reason}") from exc
    async with db.transaction() as session:
        lineage = None
        if body.certificate_id is not None:
            cert = await repo.get_certificate(session, body.certificate_id)
            # Only the holder consents (an applicant of another kind only sees it).
            if cert is None or (cert.holder_kind, cert.holder_ref) != (kind, ref):
                raise Problem(404, "no such certificate of yours", code="not-found")
            lineage = cert.lineage
        row = AuthorizationRow(
            id=uuid.uuid4().hex,
            holder_kind=kind,
            holder_ref=ref,
            org_uscc=org,
            use_cause=body.use_cause,
            lineage=lineage,
            type_code=body.type_code,
            case_no=body.case_no,
            matter_code=body.matter_code,
            valid_from=valid_from,
            valid_until=valid_until,
            created_by=principal.subject,
            created_at=now,
        )
        session.add(row)
    return authorization_out(row, now)


async def my_authorizations(session: AsyncSession, principal: Principal) -> list[dict[str, Any]]:
    kind, ref = _holder(principal)
    now = utcnow()
    return [authorization_out(r, now) for r in await repo.holder_authorizations(session, kind, ref)]


async def revoke(db: Database, principal: Principal, auth_id: str) -> None:
    """撤销授权: the next fetch under it is refused. Revoking twice is a no-op."""
    kind, ref = _holder(principal)
    async with db.transaction() as session:
        row = await repo.lock_authorization(session, auth_id)
        if row is None or (row.holder_kind, row.holder_ref) != (kind, ref):
            raise Problem(404, "no such authorisation of yours", code="not-found")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            row.revoked_by = principal.subject


# --- use by an org's system ---------------------------------------------------------


def calling_org(principal: Principal, requested: str | None) -> str:
    """The org a system acts for: one it was registered for (token claim ``orgs``)."""
    if principal.subject_type != "client":
        raise Problem(403, "用证 is for registered systems (client credentials)", code="forbidden")
    claim = principal.claims.get("orgs")
    orgs = [o for o in claim if isinstance(o, str)] if isinstance(claim, list) else []
    if not orgs:
        raise Problem(
            403, "this system is registered for no org", code="client-not-registered-for-org"
        )
    if requested is None:
        if len(orgs) > 1:
            raise Problem(
                422, "this system serves several orgs: name org_uscc", code="org-required"
            )
        return orgs[0]
    if requested not in orgs:
        raise Problem(
            403, "this system is not registered for that org", code="client-not-registered-for-org"
        )
    return requested


async def _attempt(
    ctx: CertsContext,
    session: AsyncSession,
    principal: Principal,
    org: str,
    cert: CertificateRow,
    body: UseIn,
    now: dt.datetime,
) -> bool:
    """Decide one use of one certificate and log it (and the fact when allowed)."""
    rows = await repo.grants_for(session, cert.holder_kind, cert.holder_ref, org)
    grants = [
        Grant(
            id=r.id,
            org_uscc=r.org_uscc,
            use_cause=r.use_cause,
            lineage=r.lineage,
            type_code=r.type_code,
            case_no=r.case_no,
            matter_code=r.matter_code,
            valid_from=r.valid_from,
            valid_until=r.valid_until,
            revoked_at=r.revoked_at,
        )
        for r in rows
    ]
    request = UseRequest(
        org_uscc=org,
        lineage=cert.lineage,
        type_code=cert.type_code,
        use_cause=body.use_cause,
        case_no=body.case_no,
        matter_code=body.matter_code,
    )
    decision = decide(grants, request, now)
    session.add(
        UseRow(
            lineage=cert.lineage,
            certificate_id=cert.certificate_id,
            version=cert.version,
            org_uscc=org,
            client_id=principal.client_id,
            use_cause=body.use_cause,
            case_no=body.case_no,
            outcome="allowed" if decision.allowed else "refused",
            reason=decision.reason,
            authorization_id=decision.grant_id,
            at=now,
        )
    )
    if decision.allowed:
        await facts.used(
            ctx.publish,
            session,
            cert,
            org_uscc=org,
            client_id=principal.client_id,
            use_cause=body.use_cause,
            case_no=body.case_no,
            at=now,
        )
    return decision.allowed


async def use_certificate(
    ctx: CertsContext, db: Database, principal: Principal, cid: str, body: UseIn
) -> dict[str, Any]:
    """GET by 证照标识. Unknown and refused answer the same 404 (no existence oracle); the
    refusal is in the holder's use log."""
    org = calling_org(principal, body.org_uscc)
    now = utcnow()
    async with db.transaction() as session:
        cert = await repo.get_certificate(session, cid)
        allowed = cert is not None and await _attempt(ctx, session, principal, org, cert, body, now)
    if not allowed or cert is None:
        raise Problem(404, NOT_USABLE, code="not-authorised")
    return detail(ctx, cert, local_date(now))


def _holder_of(id_type: str, holder_id: str, ctx: CertsContext) -> tuple[str, str]:
    try:
        if id_type == "citizen_id":
            return "natural", citizen_id_ref(ctx.cipher, validate_citizen_id(holder_id))
        return "legal", validate_uscc(holder_id)
    except InvalidIdentifier as exc:
        raise Problem(422, f"holder_id: {exc.reason}", code="invalid-holder-id") from exc


async def lookup(
    ctx: CertsContext,
    db: Database,
    principal: Principal,
    id_type: str,
    holder_id: str,
    type_code: str,
    body: UseIn,
) -> list[dict[str, Any]]:
    """By holder ID + type (GB/T 36905 query by holder): the holder's current certificates of
    that type that this org may use; each attempt logged. None usable → 404."""
    org = calling_org(principal, body.org_uscc)
    kind, ref = _holder_of(id_type, holder_id, ctx)
    now = utcnow()
    usable: list[CertificateRow] = []
    async with db.transaction() as session:
        for cert in await repo.holder_certificates_of_type(session, kind, ref, type_code):
            if await _attempt(ctx, session, principal, org, cert, body, now):
                usable.append(cert)
    if not usable:
        raise Problem(404, NOT_USABLE, code="not-authorised")
    today = local_date(now)
    return [detail(ctx, c, today) for c in usable]


async def my_uses(session: AsyncSession, principal: Principal, cid: str) -> list[dict[str, Any]]:
    """用证记录 of one of the holder's certificates (every version), newest first."""
    key = require_l3(principal)
    cert = await repo.get_certificate(session, cid)
    if cert is None or not is_holder(cert, key):
        raise Problem(404, "no such certificate of yours", code="not-found")
    return [
        {
            "certificate_id": u.certificate_id,
            "version": u.version,
            "org_uscc": u.org_uscc,
            "system": u.client_id,
            "use_cause": u.use_cause,
            "case_no": u.case_no,
            "outcome": u.outcome,
            "reason": u.reason,
            "authorization_id": u.authorization_id,
            "at": u.at,
        }
        for u in await repo.uses(session, cert.lineage)
    ]


# --- 加注件: single-use, expiring links to a watermarked PDF ----------------------------

FILE_LINK_TTL = dt.timedelta(minutes=5)


def _link_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


async def file_link(
    ctx: CertsContext, db: Database, principal: Principal, cid: str, body: UseIn
) -> dict[str, Any]:
    """A use (decided and logged like a fetch) whose result is a link to the PDF carrying the
    用证事由 as a watermark: valid FILE_LINK_TTL, downloadable once."""
    org = calling_org(principal, body.org_uscc)
    now = utcnow()
    token = secrets.token_urlsafe(32)
    async with db.transaction() as session:
        cert = await repo.get_certificate(session, cid)
        allowed = cert is not None and await _attempt(ctx, session, principal, org, cert, body, now)
        if allowed:
            session.add(
                FileLinkRow(
                    token_hash=_link_hash(token),
                    certificate_id=cid,
                    org_uscc=org,
                    use_cause=body.use_cause,
                    expires_at=now + FILE_LINK_TTL,
                    created_at=now,
                )
            )
    if not allowed:
        raise Problem(404, NOT_USABLE, code="not-authorised")
    base = ctx.settings.certs_public_base_url
    return {"url": f"{base}/v1/use/files/{token}", "expires_at": now + FILE_LINK_TTL}


async def download(ctx: CertsContext, db: Database, token: str) -> bytes:
    """The file behind a link, once; used, expired and unknown links are all 404."""
    async with db.transaction() as session:
        link = await repo.take_file_link(session, _link_hash(token), utcnow())
        cert = None if link is None else await repo.get_certificate(session, link.certificate_id)
        if link is None or cert is None:
            raise Problem(404, "no such file link, or it was used or has expired", code="gone")
        mark = f"{link.use_cause}（{link.org_uscc}）"
        return await pdf.certificate_pdf(ctx, session, cert, watermark=mark)
