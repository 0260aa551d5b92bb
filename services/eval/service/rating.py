"""Rating use cases: the applicant's rating, 追评, and the 默认评价 after the window."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.eval.domain import rectification as rect
from services.eval.domain.rating import (
    DEFAULT_LEVEL,
    Channel,
    RatingError,
    check_follow_up,
    check_rating,
)
from services.eval.events import facts
from services.eval.service import records
from services.eval.service.context import EvalContext, local_date, period_of
from services.eval.service.invitations import applicant_key
from services.eval.store import repository as repo
from services.eval.store.tables import EvaluationRow, InvitationRow, RectificationRow, StepRow
from services.runtime.auth import Principal
from services.runtime.db import Database, utcnow
from services.runtime.problems import Problem


def contact_context(evaluation_id: str) -> str:
    return f"eval-contact:{evaluation_id}"


def _new_id() -> str:
    return uuid.uuid4().hex


def new_evaluation(
    inv: InvitationRow,
    channel: str,
    level: int,
    now: dt.datetime,
    *,
    indicators: Mapping[str, int] | None = None,
    categories: Sequence[str] = (),
    comment: str | None = None,
    is_default: bool = False,
) -> EvaluationRow:
    return EvaluationRow(
        id=_new_id(),
        case_no=inv.case_no,
        channel=channel,
        level=level,
        indicators=dict(indicators or {}),
        categories=list(categories),
        comment=comment,
        is_default=is_default,
        is_bad=level <= 2 and not is_default,
        named=False,
        rectified=False,
        visited=False,
        excluded=False,
        implementation_code=inv.implementation_code,
        matter_name=inv.matter_name,
        org_uscc=inv.org_uscc,
        department=inv.department,
        submitted_at=now,
        period=period_of(now),
    )


async def open_rectification(
    ctx: EvalContext, session: AsyncSession, ev: EvaluationRow, now: dt.datetime
) -> RectificationRow:
    """A 差评 opens its rectification: to be verified within the verify deadline."""
    start = rect.open_rectification(local_date(now), ctx.deadlines, ctx.calendar)
    row = RectificationRow(
        id=_new_id(),
        evaluation_id=ev.id,
        case_no=ev.case_no,
        org_uscc=ev.org_uscc,
        created_at=now,
        updated_at=now,
    )
    records.store(row, start)
    session.add(row)
    session.add(
        StepRow(
            rectification_id=row.id,
            action="open",
            from_state=None,
            to_state=row.state,
            actor="system",
            actor_org=None,
            notes=None,
            at=now,
        )
    )
    await session.flush()
    await facts.rectification_changed(ctx.publish, session, row, action="open", before=None, at=now)
    return row


async def submit(
    ctx: EvalContext,
    db: Database,
    principal: Principal,
    *,
    case_no: str,
    channel: str,
    level: int,
    indicators: Mapping[str, int],
    categories: Sequence[str],
    comment: str | None,
    anonymous: bool,
    contact_phone: str | None,
    now: dt.datetime | None = None,
) -> EvaluationRow:
    """一事一评 by the 办件's applicant (or its agent); others are told it does not exist."""
    actor = principal.actor or {}
    return await rate_as(
        ctx,
        db,
        applicant_key(principal),
        str(actor.get("sub") or principal.subject),
        case_no=case_no,
        channel=channel,
        level=level,
        indicators=indicators,
        categories=categories,
        comment=comment,
        anonymous=anonymous,
        contact_phone=contact_phone,
        now=now,
    )


async def rate_as(
    ctx: EvalContext,
    db: Database,
    key: tuple[str, str] | None,
    evaluator_sub: str,
    *,
    case_no: str,
    channel: str,
    level: int,
    indicators: Mapping[str, int],
    categories: Sequence[str],
    comment: str | None,
    anonymous: bool,
    contact_phone: str | None,
    entered_by: str | None = None,
    now: dt.datetime | None = None,
) -> EvaluationRow:
    """A rating of ``case_no`` by the applicant ``key``; 404 unless it is the 办件's."""
    try:
        lvl = check_rating(Channel(channel), level, indicators, categories, comment)
    except (RatingError, ValueError) as exc:
        code = exc.code if isinstance(exc, RatingError) else "invalid-channel"
        raise Problem(422, str(exc), code=code) from None
    if anonymous and contact_phone:
        raise Problem(422, "an anonymous rating leaves no contact", code="invalid-contact")
    now = now or utcnow()
    try:
        async with db.transaction() as session:
            inv = await repo.invitation(session, case_no, lock=True)
            if inv is None or key is None or (inv.applicant_kind, inv.applicant_ref) != key:
                raise Problem(404, "no 办件 of yours to rate with that number", code="not-found")
            if inv.window_closed_at is not None or now >= inv.default_due_at:
                raise Problem(
                    409, "the rating window of this 办件 has closed", code="window-closed"
                )
            if channel in (await repo.channels_rated(session, [case_no])).get(case_no, []):
                raise Problem(
                    409, "this 办件 is already rated on that channel", code="already-rated"
                )
            ev = new_evaluation(
                inv,
                channel,
                int(lvl),
                now,
                indicators=indicators,
                categories=categories,
                comment=(comment or "").strip() or None,
            )
            ev.evaluator_kind, ev.evaluator_ref = key
            ev.evaluator_sub = evaluator_sub
            ev.entered_by = entered_by
            ev.named = not anonymous
            if contact_phone and not anonymous:
                ev.contact_enc = ctx.cipher.encrypt(contact_phone, context=contact_context(ev.id))
            session.add(ev)
            await session.flush()
            await facts.submitted(ctx.publish, session, ev)
            if ev.is_bad:
                await open_rectification(ctx, session, ev, now)
    except IntegrityError:
        # Two ratings of one channel at once: the unique constraint decides.
        raise Problem(
            409, "this 办件 is already rated on that channel", code="already-rated"
        ) from None
    return ev


async def follow_up(
    ctx: EvalContext, db: Database, principal: Principal, evaluation_id: str, text: str
) -> EvaluationRow:
    key = applicant_key(principal)
    now = utcnow()
    async with db.transaction() as session:
        ev = await repo.evaluation(session, evaluation_id, lock=True)
        if ev is None or key is None or (ev.evaluator_kind, ev.evaluator_ref) != key:
            raise Problem(404, "no rating of yours with that id", code="not-found")
        try:
            check_follow_up(
                ev.submitted_at,
                now,
                ctx.settings.eval_follow_up_days,
                already=ev.follow_up is not None,
                is_default=ev.is_default,
                text=text,
            )
        except RatingError as exc:
            status = 422 if exc.code == "invalid-comment" else 409
            raise Problem(status, exc.detail, code=exc.code) from None
        ev.follow_up, ev.follow_up_at = text.strip(), now
    return ev


async def rate_rectification(
    ctx: EvalContext, db: Database, principal: Principal, evaluation_id: str, level: int
) -> RectificationRow:
    """The evaluator rates how the 差评 was rectified (once, after the 整改)."""
    key = applicant_key(principal)
    now = utcnow()
    async with db.transaction() as session:
        ev = await repo.evaluation(session, evaluation_id)
        if ev is None or key is None or (ev.evaluator_kind, ev.evaluator_ref) != key:
            raise Problem(404, "no rating of yours with that id", code="not-found")
        row = await repo.rectification_of_evaluation(session, evaluation_id)
        if row is None or not rect.is_rectified(rect.State(row.state)):
            raise Problem(409, "there is no finished rectification to rate", code="not-rectified")
        if row.evaluator_verdict is not None:
            raise Problem(409, "the rectification is already rated", code="already-rated")
        row.evaluator_verdict, row.evaluator_verdict_at = level, now
    return row


async def my_evaluations(session: AsyncSession, principal: Principal) -> list[dict[str, Any]]:
    key = applicant_key(principal)
    if key is None:
        return []
    out = []
    rows = await repo.evaluations_of(session, *key)
    handled = await repo.rectifications_of_evaluations(session, [e.id for e in rows if e.is_bad])
    for ev in rows:
        r = handled.get(ev.id)
        out.append(
            public_view(ev)
            | {
                "named": ev.named,
                "rectification_state": r.state if r else None,
                "rectification_rating": r.evaluator_verdict if r else None,
            }
        )
    return out


def public_view(ev: EvaluationRow) -> dict[str, Any]:
    """A rating as staff may see it: no evaluator identity, no contact."""
    return {
        "id": ev.id,
        "case_no": ev.case_no,
        "implementation_code": ev.implementation_code,
        "matter_name": ev.matter_name,
        "org_uscc": ev.org_uscc,
        "department": ev.department,
        "channel": ev.channel,
        "level": ev.level,
        "indicators": ev.indicators,
        "categories": ev.categories,
        "comment": ev.comment,
        "follow_up": ev.follow_up,
        "is_default": ev.is_default,
        "is_bad": ev.is_bad,
        "excluded": ev.excluded,
        "entered_by": ev.entered_by,
        "submitted_at": ev.submitted_at,
    }


async def give_default_ratings(
    ctx: EvalContext, db: Database, now: dt.datetime, batch: int = 500
) -> int:
    """默认评价 (基本满意, marked default) for every 办件 whose window passed unrated."""
    given = 0
    while True:
        async with db.transaction() as session:
            due = await repo.due_invitations(session, now, batch)
            rated = await repo.channels_rated(session, [i.case_no for i in due])
            for inv in due:
                inv.window_closed_at = now
                if inv.case_no in rated:
                    continue
                ev = new_evaluation(
                    inv, str(Channel.DEFAULT), int(DEFAULT_LEVEL), now, is_default=True
                )
                ev.evaluator_kind, ev.evaluator_ref = inv.applicant_kind, inv.applicant_ref
                session.add(ev)
                await session.flush()
                await facts.submitted(ctx.publish, session, ev)
                given += 1
        if len(due) < batch:
            return given
