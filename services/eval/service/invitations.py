"""评价邀请: on ``case.concluded`` (either decision) and 不予受理, the applicant is invited.

Idempotent per 办件 (``invitations.case_no`` is the key): a re-delivered fact finds the row."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.eval.domain.rating import default_rating_due
from services.eval.service.context import EvalContext
from services.eval.store import repository as repo
from services.eval.store.tables import InvitationRow
from services.runtime.auth import Principal
from services.runtime.db import utcnow


def applicant_key(principal: Principal) -> tuple[str, str] | None:
    """How the caller is named as an applicant: natural by ID blind index, legal (and its
    agents, whose tokens carry the company) by USCC."""
    if principal.subject_type == "natural" and principal.id_ref:
        return "natural", principal.id_ref
    if principal.subject_type == "legal" and principal.uscc:
        return "legal", principal.uscc
    return None


def _when(raw: Any, fallback: dt.datetime) -> dt.datetime:
    if isinstance(raw, str):
        try:
            parsed = dt.datetime.fromisoformat(raw)
        except ValueError:
            return fallback
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return fallback


async def invite(
    ctx: EvalContext, session: AsyncSession, data: dict[str, Any], outcome: str
) -> InvitationRow | None:
    """The invitation for the 办件 ``data`` describes (None when it names no applicant)."""
    applicant = data.get("applicant") or {}
    kind, ref = applicant.get("type"), applicant.get("id_ref")
    case_no = data.get("case_no")
    if kind not in ("natural", "legal") or not ref or not case_no:
        return None
    existing = await repo.invitation(session, case_no)
    if existing is not None:
        return existing
    now = utcnow()
    ended = _when(data.get("concluded_at") or data.get("stage_since"), now)
    handler = data.get("handler") or {}
    row = InvitationRow(
        case_no=case_no,
        implementation_code=data.get("implementation_code") or "",
        matter_name=data.get("matter_name"),
        org_uscc=handler.get("org_uscc"),
        department=handler.get("department"),
        applicant_kind=kind,
        applicant_ref=ref,
        outcome=outcome,
        ended_at=ended,
        invited_at=now,
        # The window runs from the end of the 办件 (the clock the applicant saw stop).
        default_due_at=default_rating_due(ended, ctx.settings.eval_default_rating_days),
        window_closed_at=None,
    )
    session.add(row)
    await session.flush()
    return row


async def on_concluded(ctx: EvalContext, session: AsyncSession, data: dict[str, Any]) -> None:
    await invite(ctx, session, data, data.get("decision") or "approved")


async def on_state_changed(ctx: EvalContext, session: AsyncSession, data: dict[str, Any]) -> None:
    if data.get("to_stage") == "not_accepted":
        await invite(ctx, session, data, "not_accepted")


async def my_invitations(session: AsyncSession, principal: Principal) -> list[dict[str, Any]]:
    key = applicant_key(principal)
    if key is None:
        return []
    rows = await repo.invitations_of(session, *key)
    rated = await repo.channels_rated(session, [r.case_no for r in rows])
    now = utcnow()
    return [
        {
            "case_no": r.case_no,
            "implementation_code": r.implementation_code,
            "matter_name": r.matter_name,
            "org_uscc": r.org_uscc,
            "department": r.department,
            "outcome": r.outcome,
            "ended_at": r.ended_at,
            "rate_until": r.default_due_at,
            "open": r.window_closed_at is None and now < r.default_due_at,
            "rated_channels": sorted(rated.get(r.case_no, [])),
        }
        for r in rows
    ]
