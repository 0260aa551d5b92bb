"""Facts the certs service tells on ``hub.certs`` (written to the outbox by the caller's
transaction). Schemas: ``contracts/events/cert-*.schema.json``. No 照面 and no holder ID
travel: consumers fetch what they may see through the API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.certs.store.tables import CertificateRow

Publish = Callable[..., Awaitable[str]]

ISSUED = "hub.cert.issued"
CHANGED = "hub.cert.changed"
STATUS_CHANGED = "hub.cert.status_changed"
USED = "hub.cert.used"


def _base(cert: CertificateRow) -> dict[str, Any]:
    return {
        "certificate_id": cert.certificate_id,
        "type_code": cert.type_code,
        "name": cert.name,
        "issuer_uscc": cert.issuer_uscc,
        "version": cert.version,
        "status": cert.status,
        "holder": {"type": cert.holder_kind, "ref": cert.holder_ref},
        "case_no": cert.case_no,
        "valid_from": cert.valid_from.isoformat(),
        "valid_until": cert.valid_until.isoformat() if cert.valid_until else None,
    }


def _key(cert: CertificateRow) -> str:
    return cert.lineage  # every version of one certificate stays in order on one partition


async def issued(publish: Publish, session: AsyncSession, cert: CertificateRow) -> None:
    data = _base(cert) | {"issued_at": cert.created_at.isoformat()}
    await publish(session, ISSUED, key=_key(cert), data=data, occurred_at=cert.created_at)


async def changed(
    publish: Publish,
    session: AsyncSession,
    cert: CertificateRow,
    previous_id: str,
    reason: str,
    actor: str | None,
) -> None:
    data = _base(cert) | {
        "previous_certificate_id": previous_id,
        "reason": reason,
        "actor": actor,
        "changed_at": cert.created_at.isoformat(),
    }
    await publish(session, CHANGED, key=_key(cert), data=data, occurred_at=cert.created_at)


async def status_changed(
    publish: Publish,
    session: AsyncSession,
    cert: CertificateRow,
    *,
    before: str,
    transition: str,
    reason: str | None,
    actor: str | None,
    at: datetime,
) -> None:
    data = _base(cert) | {
        "from_status": before,
        "to_status": cert.status,
        "transition": transition,
        "reason": reason,
        "actor": actor,
        "changed_at": at.isoformat(),
    }
    await publish(session, STATUS_CHANGED, key=_key(cert), data=data, occurred_at=at)


async def used(
    publish: Publish,
    session: AsyncSession,
    cert: CertificateRow,
    *,
    org_uscc: str,
    client_id: str | None,
    use_cause: str,
    case_no: str | None,
    at: datetime,
) -> None:
    """用证: an org's system read the certificate (allowed uses only; refusals stay in the
    holder's use log)."""
    data = _base(cert) | {
        "user_org_uscc": org_uscc,
        "user_system": client_id,
        "use_cause": use_cause,
        "used_case_no": case_no,
        "used_at": at.isoformat(),
    }
    await publish(session, USED, key=_key(cert), data=data, occurred_at=at)
