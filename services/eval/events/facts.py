"""Facts the eval service tells on ``hub.evals`` (written to the outbox by the caller's
transaction). Schemas: ``contracts/events/eval-*.schema.json``. No evaluator identity
travels: neither the ID reference nor the contact."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.eval.store.tables import EvaluationRow, RectificationRow

Publish = Callable[..., Awaitable[str]]

SUBMITTED = "hub.eval.submitted"
RECTIFICATION_CHANGED = "hub.eval.rectification_changed"


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


async def submitted(publish: Publish, session: AsyncSession, ev: EvaluationRow) -> None:
    data = {
        "evaluation_id": ev.id,
        "case_no": ev.case_no,
        "implementation_code": ev.implementation_code,
        "org_uscc": ev.org_uscc,
        "department": ev.department,
        "channel": ev.channel,
        "level": ev.level,
        "indicators": ev.indicators,
        "categories": ev.categories,
        "is_bad": ev.is_bad,
        "is_default": ev.is_default,
        "named": ev.named,
        "submitted_at": ev.submitted_at.isoformat(),
    }
    await publish(session, SUBMITTED, key=ev.case_no, data=data, occurred_at=ev.submitted_at)


async def rectification_changed(
    publish: Publish,
    session: AsyncSession,
    row: RectificationRow,
    *,
    action: str,
    before: str | None,
    at: datetime,
) -> None:
    data = {
        "rectification_id": row.id,
        "evaluation_id": row.evaluation_id,
        "case_no": row.case_no,
        "org_uscc": row.org_uscc,
        "action": action,
        "from_state": before,
        "to_state": row.state,
        "verify_due": _iso(row.verify_due),
        "rectify_due": _iso(row.rectify_due),
        "visit_due": _iso(row.visit_due),
        "due_provisional": bool(row.due_provisional),
        "changed_at": at.isoformat(),
    }
    await publish(session, RECTIFICATION_CHANGED, key=row.case_no, data=data, occurred_at=at)
