"""Queries of the eval service."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.eval.store.tables import (
    EvaluationRow,
    InvitationRow,
    QrCodeRow,
    RectificationRow,
    StepRow,
    WarningRow,
)


async def invitation(
    session: AsyncSession, case_no: str, *, lock: bool = False
) -> InvitationRow | None:
    stmt = select(InvitationRow).where(InvitationRow.case_no == case_no)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def invitations_of(session: AsyncSession, kind: str, ref: str) -> list[InvitationRow]:
    stmt = (
        select(InvitationRow)
        .where(InvitationRow.applicant_kind == kind, InvitationRow.applicant_ref == ref)
        .order_by(InvitationRow.invited_at.desc())
        .limit(500)
    )
    return list((await session.execute(stmt)).scalars())


async def channels_rated(session: AsyncSession, case_nos: Sequence[str]) -> dict[str, list[str]]:
    if not case_nos:
        return {}
    stmt = select(EvaluationRow.case_no, EvaluationRow.channel).where(
        EvaluationRow.case_no.in_(case_nos)
    )
    out: dict[str, list[str]] = {}
    for case_no, channel in (await session.execute(stmt)).all():
        out.setdefault(case_no, []).append(channel)
    return out


async def evaluation(
    session: AsyncSession, evaluation_id: str, *, lock: bool = False
) -> EvaluationRow | None:
    stmt = select(EvaluationRow).where(EvaluationRow.id == evaluation_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def evaluations_of(session: AsyncSession, kind: str, ref: str) -> list[EvaluationRow]:
    stmt = (
        select(EvaluationRow)
        .where(EvaluationRow.evaluator_kind == kind, EvaluationRow.evaluator_ref == ref)
        .order_by(EvaluationRow.submitted_at.desc())
        .limit(500)
    )
    return list((await session.execute(stmt)).scalars())


async def rectification(
    session: AsyncSession, rectification_id: str, *, lock: bool = False
) -> RectificationRow | None:
    stmt = select(RectificationRow).where(RectificationRow.id == rectification_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def rectification_of_evaluation(
    session: AsyncSession, evaluation_id: str
) -> RectificationRow | None:
    stmt = select(RectificationRow).where(RectificationRow.evaluation_id == evaluation_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def rectifications_of_evaluations(
    session: AsyncSession, evaluation_ids: Sequence[str]
) -> dict[str, RectificationRow]:
    if not evaluation_ids:
        return {}
    stmt = select(RectificationRow).where(RectificationRow.evaluation_id.in_(evaluation_ids))
    return {r.evaluation_id: r for r in (await session.execute(stmt)).scalars()}


async def rectifications_of_org(
    session: AsyncSession, org_uscc: str | None, state: str | None
) -> list[RectificationRow]:
    stmt = select(RectificationRow).order_by(RectificationRow.created_at).limit(500)
    if org_uscc is not None:
        stmt = stmt.where(RectificationRow.org_uscc == org_uscc)
    if state is not None:
        stmt = stmt.where(RectificationRow.state == state)
    return list((await session.execute(stmt)).scalars())


async def steps(session: AsyncSession, rectification_id: str) -> list[StepRow]:
    stmt = select(StepRow).where(StepRow.rectification_id == rectification_id).order_by(StepRow.id)
    return list((await session.execute(stmt)).scalars())


async def warnings_of_org(session: AsyncSession, org_uscc: str | None) -> list[WarningRow]:
    stmt = select(WarningRow).order_by(WarningRow.id).limit(1000)
    if org_uscc is not None:
        stmt = stmt.where(WarningRow.org_uscc == org_uscc)
    return list((await session.execute(stmt)).scalars())


async def has_warning(session: AsyncSession, rectification_id: str, step: str) -> bool:
    stmt = select(WarningRow.id).where(
        WarningRow.rectification_id == rectification_id, WarningRow.step == step
    )
    return (await session.execute(stmt)).first() is not None


async def due_invitations(
    session: AsyncSession, now: dt.datetime, batch: int
) -> list[InvitationRow]:
    stmt = (
        select(InvitationRow)
        .where(InvitationRow.window_closed_at.is_(None), InvitationRow.default_due_at <= now)
        .order_by(InvitationRow.default_due_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(stmt)).scalars())


async def open_rectifications(session: AsyncSession) -> list[RectificationRow]:
    stmt = select(RectificationRow).where(
        RectificationRow.state.in_(("reported", "rectifying", "return_visit"))
    )
    return list((await session.execute(stmt)).scalars())


GROUPS = {
    "org": EvaluationRow.org_uscc,
    "department": EvaluationRow.department,
    "matter": EvaluationRow.implementation_code,
    "channel": EvaluationRow.channel,
    "period": EvaluationRow.period,
}


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0).cast(Integer)


async def figure_counts(
    session: AsyncSession,
    group_by: str,
    period_from: str | None,
    period_to: str | None,
    filters: dict[str, str],
) -> list[tuple[Any, ...]]:
    """Per group: total, satisfied, bad, bad rectified, named bad, named bad visited,
    proactive; ratings whose 申诉 was upheld left out."""
    ev = EvaluationRow
    key = GROUPS[group_by]
    conditions = [ev.excluded.is_(False)]
    if period_from:
        conditions.append(ev.period >= period_from)
    if period_to:
        conditions.append(ev.period <= period_to)
    for name, value in filters.items():
        conditions.append(GROUPS[name] == value)
    bad = and_(ev.is_bad.is_(True))
    named_bad = and_(ev.is_bad.is_(True), ev.named.is_(True))
    stmt = (
        select(
            key,
            func.count(),
            _count(ev.level >= 3),
            _count(bad),
            _count(and_(bad, ev.rectified.is_(True))),
            _count(named_bad),
            _count(and_(named_bad, ev.visited.is_(True))),
            _count(ev.is_default.is_(False)),
        )
        .where(*conditions)
        .group_by(key)
        .order_by(key)
    )
    return [tuple(r) for r in (await session.execute(stmt)).all()]


async def qr_code(session: AsyncSession, nonce: str, *, lock: bool = False) -> QrCodeRow | None:
    stmt = select(QrCodeRow).where(QrCodeRow.nonce == nonce)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()
