"""Lifecycle use cases for issuer staff: 挂失/暂停, 恢复, 注销, 吊销, 变更, 年检; the 过期 sweep.

Each change keeps who/when/why (``cert_changes``), flips the status-list bits the domain
names, and tells ``hub.cert.status_changed`` (and ``hub.cert.changed`` for a new version),
all in one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.certs.domain import lifecycle as lc
from services.certs.domain.identifiers import next_version_id
from services.certs.domain.issuance import IssuanceError, prepare_version
from services.certs.domain.status_list import StatusList, StatusPurpose
from services.certs.events import facts
from services.certs.service import catalogue
from services.certs.service.context import CertsContext, local_date
from services.certs.service.issuance import checked_face, refused, store_version
from services.certs.service.keys import issuer_for_signing
from services.certs.store import repository as repo
from services.certs.store.tables import CertificateRow, ChangeRow
from services.runtime.auth import Principal
from services.runtime.db import Database, utcnow
from services.runtime.problems import Problem

ACTIONS = {
    "suspend": lc.Transition.SUSPEND,
    "resume": lc.Transition.RESUME,
    "cancel": lc.Transition.CANCEL,
    "revoke": lc.Transition.REVOKE,
}


def state_of(row: CertificateRow) -> lc.CertState:
    return lc.CertState(
        status=lc.CertStatus(row.status),
        valid_until=row.valid_until,
        annual_inspection=row.annual_inspection,
        inspection_due=row.inspection_due,
        suspension_reason=row.suspension_reason,
        inspection_failed=row.inspection_failed,
    )


async def _flip_bits(session: AsyncSession, row: CertificateRow, change: lc.StatusChange) -> None:
    for bit in change.bits:
        stored = await repo.status_list(session, row.issuer_uscc, str(bit.purpose), lock=True)
        assert stored is not None
        bits = StatusList(StatusPurpose(stored.purpose), stored.size, bits=stored.bits)
        bits.set(row.status_index, bit.value)
        stored.bits, stored.updated_at = bits.to_bytes(), change.at


async def record(
    ctx: CertsContext,
    session: AsyncSession,
    row: CertificateRow,
    change: lc.StatusChange,
    actor: str | None,
    actor_org: str | None,
) -> None:
    """Persist a domain change: row state, bits, history and the fact."""
    after = change.after
    row.status = str(after.status)
    row.suspension_reason = after.suspension_reason
    row.inspection_failed = after.inspection_failed
    row.inspection_due = after.inspection_due
    row.updated_at = change.at
    await _flip_bits(session, row, change)
    session.add(
        ChangeRow(
            certificate_id=row.certificate_id,
            transition=str(change.transition),
            before=str(change.before.status),
            after=row.status,
            reason=change.reason,
            actor=actor,
            actor_org=actor_org,
            at=change.at,
        )
    )
    await session.flush()
    await facts.status_changed(
        ctx.publish,
        session,
        row,
        before=str(change.before.status),
        transition=str(change.transition),
        reason=change.reason,
        actor=actor,
        at=change.at,
    )


async def _settle_due(
    ctx: CertsContext, session: AsyncSession, row: CertificateRow, now: dt.datetime
) -> None:
    """Apply a due 过期 / 年检 change first, so staff act on the real state."""
    change = lc.evaluate(state_of(row), local_date(now), now)
    if change is not None:
        await record(ctx, session, row, change, "system", None)


async def _own(session: AsyncSession, principal: Principal, cid: str) -> CertificateRow:
    row = await repo.get_certificate(session, cid, lock=True)
    if row is None or row.issuer_uscc != principal.uscc:
        raise Problem(404, "no such certificate of your org", code="not-found")
    return row


def _lifecycle_problem(exc: lc.LifecycleError) -> Problem:
    status = 422 if exc.reason == "reason_required" else 409
    return Problem(status, str(exc), code=exc.reason.replace("_", "-"))


async def change_status(
    ctx: CertsContext,
    db: Database,
    principal: Principal,
    cid: str,
    action: str,
    reason: str | None,
) -> CertificateRow:
    now = utcnow()
    async with db.transaction() as session:
        row = await _own(session, principal, cid)
        await _settle_due(ctx, session, row, now)
        try:
            change = lc.apply(state_of(row), ACTIONS[action], now, reason)
        except lc.LifecycleError as exc:
            raise _lifecycle_problem(exc) from exc
        await record(ctx, session, row, change, principal.subject, principal.uscc)
    return row


async def inspect(
    ctx: CertsContext, db: Database, principal: Principal, cid: str, passed: bool
) -> CertificateRow:
    now = utcnow()
    async with db.transaction() as session:
        row = await _own(session, principal, cid)
        await _settle_due(ctx, session, row, now)
        try:
            change = lc.record_inspection(state_of(row), passed, now)
        except lc.LifecycleError as exc:
            raise _lifecycle_problem(exc) from exc
        await record(ctx, session, row, change, principal.subject, principal.uscc)
    return row


async def new_version(
    ctx: CertsContext,
    db: Database,
    principal: Principal,
    cid: str,
    face: Mapping[str, Any],
    reason: str,
) -> CertificateRow:
    """变更: a new version with the next version number; the old one becomes superseded."""
    now = utcnow()
    async with db.transaction() as session:
        old = await _own(session, principal, cid)
        await _settle_due(ctx, session, old, now)
        try:
            change = lc.apply(state_of(old), lc.Transition.SUPERSEDE, now, reason)
        except lc.LifecycleError as exc:
            raise _lifecycle_problem(exc) from exc
        cert_type = await catalogue.require_type(session, old.type_code)
        issuer, key = await issuer_for_signing(ctx, session, old.issuer_uscc, now)
        try:
            version = prepare_version(
                cert_type,
                certificate_id=next_version_id(old.certificate_id),
                issuer_name=issuer.name,
                issued_on=local_date(now),
                face=checked_face(face),
            )
        except IssuanceError as exc:
            raise refused(exc) from exc
        except ValueError as exc:  # version 999 reached
            raise Problem(409, str(exc), code="no-more-versions") from exc
        if version.holder_id != (await _holder_id(ctx, old)):
            raise Problem(422, "变更 cannot change the holder", code="holder-changed")
        new = await store_version(
            ctx, session, cert_type, version, key, case_no=None, actor=principal.subject, now=now
        )
        new.applicant_kind, new.applicant_ref = old.applicant_kind, old.applicant_ref
        old.superseded_by = new.certificate_id
        await record(ctx, session, old, change, principal.subject, principal.uscc)
        await facts.changed(
            ctx.publish, session, new, old.certificate_id, reason, principal.subject
        )
    return new


async def _holder_id(ctx: CertsContext, row: CertificateRow) -> str:
    return ctx.cipher.decrypt(row.holder_id_enc, context=f"certs-holder:{row.certificate_id}")


async def sweep(
    ctx: CertsContext, db: Database, now: dt.datetime | None = None, batch: int = 500
) -> int:
    """过期 and 年检-overdue changes due today, for every live certificate (periodic job).

    Batches commit on their own; a row changed by a batch no longer matches the query."""
    now = now or utcnow()
    today = local_date(now)
    done = 0
    while True:
        async with db.transaction() as session:
            due = (CertificateRow.valid_until < today) | (
                CertificateRow.inspection_due < today
            ) & CertificateRow.inspection_failed.is_(False)
            stmt = (
                select(CertificateRow)
                .where(CertificateRow.status.in_(("valid", "suspended")), due)
                .order_by(CertificateRow.certificate_id)
                .limit(batch)
                .with_for_update()
            )
            rows = list((await session.execute(stmt)).scalars())
            changed = 0
            for row in rows:
                change = lc.evaluate(state_of(row), today, now)
                if change is not None:
                    await record(ctx, session, row, change, "system", None)
                    changed += 1
        done += changed
        if len(rows) < batch or not changed:
            return done
