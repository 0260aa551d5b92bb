"""差评 handling by staff: 核实, 整改, 回访, 申诉 and its review; overdue warnings.

Staff act for their org (the token's USCC); reviewers decide appeals. Every step keeps
actor, time and notes. Staff never see who rated: the contact of a 实名差评 is given to
role ``eval-rectifier`` only, for the return visit, and every such look is audited."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.eval.domain import rectification as rect
from services.eval.events import facts
from services.eval.service import records
from services.eval.service.context import EvalContext, local_date
from services.eval.service.rating import contact_context, public_view
from services.eval.store import repository as repo
from services.eval.store.tables import (
    IdentityAccessRow,
    RectificationRow,
    StepRow,
    WarningRow,
)
from services.runtime.auth import Principal
from services.runtime.db import Database, utcnow
from services.runtime.problems import Problem

log = logging.getLogger("hub.eval")

HANDLER_ROLES = frozenset({"eval-handler", "eval-rectifier"})
REVIEWER_ROLE = "eval-reviewer"
CONTACT_ROLE = "eval-rectifier"


def _may_see(principal: Principal, row: RectificationRow) -> bool:
    if principal.has_role(REVIEWER_ROLE):
        return True
    return bool(principal.roles & HANDLER_ROLES) and principal.uscc == row.org_uscc


def rectification_view(row: RectificationRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "evaluation_id": row.evaluation_id,
        "case_no": row.case_no,
        "org_uscc": row.org_uscc,
        "state": row.state,
        "verify_due": row.verify_due,
        "rectify_due": row.rectify_due,
        "visit_due": row.visit_due,
        "due_provisional": bool(row.due_provisional),
        "evidence": row.evidence,
        "rectification_rating": row.evaluator_verdict,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


async def detail(session: AsyncSession, principal: Principal, rid: str) -> dict[str, Any]:
    row = await repo.rectification(session, rid)
    if row is None or not _may_see(principal, row):
        raise Problem(404, "no such rectification of your org", code="not-found")
    ev = await repo.evaluation(session, row.evaluation_id)
    assert ev is not None
    steps = [
        {
            "action": s.action,
            "from_state": s.from_state,
            "to_state": s.to_state,
            "actor": s.actor,
            "actor_org": s.actor_org,
            "notes": s.notes,
            "at": s.at,
        }
        for s in await repo.steps(session, rid)
    ]
    return rectification_view(row) | {
        "evaluation": public_view(ev) | {"named": ev.named},
        "steps": steps,
    }


async def listing(
    session: AsyncSession, principal: Principal, state: str | None
) -> list[dict[str, Any]]:
    if principal.has_role(REVIEWER_ROLE):
        org = None
    elif principal.roles & HANDLER_ROLES and principal.uscc:
        org = principal.uscc
    else:
        raise Problem(
            403, "needs role eval-handler, eval-rectifier or eval-reviewer", code="forbidden"
        )
    return [rectification_view(r) for r in await repo.rectifications_of_org(session, org, state)]


async def step(
    ctx: EvalContext,
    db: Database,
    principal: Principal,
    rid: str,
    action: str,
    notes: str | None,
    evidence: list[str] | None,
    now: dt.datetime | None = None,
) -> RectificationRow:
    act = rect.Action(action)
    if act in rect.REVIEW_ACTIONS and not principal.has_role(REVIEWER_ROLE):
        raise Problem(403, "deciding an appeal needs role eval-reviewer", code="forbidden")
    if act in rect.STAFF_ACTIONS and not principal.roles & HANDLER_ROLES:
        raise Problem(403, "needs role eval-handler or eval-rectifier", code="forbidden")
    if act is rect.Action.APPEAL and not evidence:
        raise Problem(422, "an appeal needs evidence", code="evidence-required")
    if (
        act
        in (rect.Action.RECTIFY, rect.Action.RETURN_VISIT, rect.Action.UPHOLD, rect.Action.REJECT)
        and not (notes or "").strip()
    ):
        raise Problem(422, f"{act} needs notes saying what was done", code="notes-required")
    now = now or utcnow()
    async with db.transaction() as session:
        row = await repo.rectification(session, rid, lock=True)
        if row is None or not _may_see(principal, row):
            raise Problem(404, "no such rectification of your org", code="not-found")
        if act in rect.STAFF_ACTIONS and principal.uscc != row.org_uscc:
            raise Problem(404, "no such rectification of your org", code="not-found")
        current = records.as_domain(row)
        try:
            nxt = rect.apply(
                current,
                act,
                local_date(now),
                ctx.deadlines,
                ctx.calendar,
                rect.division_of_org(row.org_uscc),
            )
        except rect.TransitionError as exc:
            raise Problem(409, exc.detail, code="invalid-transition") from None
        before = row.state
        records.store(row, nxt)
        if act is rect.Action.APPEAL:
            row.evidence = list(evidence or [])
        row.updated_at = now
        ev = await repo.evaluation(session, row.evaluation_id, lock=True)
        assert ev is not None
        ev.rectified = rect.is_rectified(nxt.state)
        ev.visited = nxt.state is rect.State.CLOSED
        ev.excluded = nxt.state is rect.State.APPEAL_UPHELD
        session.add(
            StepRow(
                rectification_id=row.id,
                action=str(act),
                from_state=before,
                to_state=row.state,
                actor=principal.subject,
                actor_org=principal.uscc,
                notes=(notes or "").strip() or None,
                at=now,
            )
        )
        await session.flush()
        await facts.rectification_changed(
            ctx.publish, session, row, action=str(act), before=before, at=now
        )
    return row


async def contact(ctx: EvalContext, db: Database, principal: Principal, rid: str) -> dict[str, Any]:
    """The evaluator's contact for the 回访 of a 实名差评; audited."""
    if not principal.has_role(CONTACT_ROLE):
        raise Problem(403, "only role eval-rectifier sees an evaluator's contact", code="forbidden")
    now = utcnow()
    async with db.transaction() as session:
        row = await repo.rectification(session, rid)
        if row is None or principal.uscc != row.org_uscc:
            raise Problem(404, "no such rectification of your org", code="not-found")
        ev = await repo.evaluation(session, row.evaluation_id)
        assert ev is not None
        if not ev.named or ev.contact_enc is None:
            raise Problem(404, "an anonymous 差评 has no contact", code="no-contact")
        if row.state != str(rect.State.RETURN_VISIT):
            raise Problem(
                409, "the contact is given for the return visit only", code="not-visiting"
            )
        session.add(
            IdentityAccessRow(
                evaluation_id=ev.id,
                actor=principal.subject,
                actor_org=principal.uscc,
                purpose="return_visit",
                at=now,
                details={"rectification_id": row.id},
            )
        )
        phone = ctx.cipher.decrypt(ev.contact_enc, context=contact_context(ev.id))
    log.info("evaluator contact read for return visit", extra={"rectification_id": rid})
    return {"rectification_id": rid, "phone": phone}


async def raise_warnings(ctx: EvalContext, db: Database, now: dt.datetime) -> int:
    """预警 for every step past its deadline (once per step)."""
    today = local_date(now)
    raised = 0
    async with db.transaction() as session:
        for row in await repo.open_rectifications(session):
            late = rect.overdue(records.as_domain(row), today)
            if late is None or await repo.has_warning(session, row.id, late[0]):
                continue
            session.add(
                WarningRow(
                    rectification_id=row.id,
                    org_uscc=row.org_uscc,
                    step=late[0],
                    due=late[1],
                    raised_at=now,
                )
            )
            raised += 1
    return raised


async def warnings(session: AsyncSession, principal: Principal) -> list[dict[str, Any]]:
    if principal.has_role(REVIEWER_ROLE):
        org = None
    elif principal.roles & HANDLER_ROLES and principal.uscc:
        org = principal.uscc
    else:
        raise Problem(
            403, "needs role eval-handler, eval-rectifier or eval-reviewer", code="forbidden"
        )
    return [
        {
            "id": w.id,
            "rectification_id": w.rectification_id,
            "org_uscc": w.org_uscc,
            "step": w.step,
            "due": w.due,
            "raised_at": w.raised_at,
        }
        for w in await repo.warnings_of_org(session, org)
    ]
