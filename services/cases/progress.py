"""Progress of 办件 for applicants and staff: who may see what, and how it is shown.

Deny by default: an applicant (natural person by ``id_ref``, legal person by USCC, or
an agent acting for it under 授权代办 with a token carrying ``cases:read``) sees only
cases they applied for; staff see the cases their org (USCC) handles. All of them only
when logged in at L3 or above (the route refuses lower levels with a step-up 403; the
rules here refuse them again so no other caller can skip it). Everyone else is told the
case does not exist (404), so case numbers cannot be probed. The applicant's ID number
is shown in clear to the applicant only.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.casework import Casework
from services.cases.domain.deadlines import Limits, remaining_working_days
from services.cases.domain.history import LOCAL_TZ, fold, local_date
from services.cases.store import repository as repo
from services.cases.store.tables import CaseRow, WarningRow
from services.runtime.auth import Principal
from services.runtime.db import utcnow
from services.runtime.masking import mask_citizen_id
from services.runtime.problems import Problem

MAX_PAGE = 100


def _not_found(case_no: str) -> Problem:
    return Problem(404, f"no case {case_no} is visible to you", code="case-not-found")


PERSONAL_DATA_LEVEL = "L3"


def may_read(principal: Principal) -> bool:
    """Scope ``cases:read`` (a 授权代办 token has it only if the grant lists it) and a
    login at L3 or above."""
    return principal.has_scope("cases:read") and principal.assurance_at_least(PERSONAL_DATA_LEVEL)


def is_applicant(principal: Principal, case: CaseRow) -> bool:
    if not may_read(principal):
        return False
    if principal.subject_type == "natural":
        return bool(principal.id_ref) and (
            case.applicant_type == "natural" and case.applicant_id_ref == principal.id_ref
        )
    if principal.subject_type == "legal":
        return bool(principal.uscc) and (
            case.applicant_type == "legal" and case.applicant_id_ref == principal.uscc
        )
    return False


def is_handling_staff(principal: Principal, case: CaseRow) -> bool:
    return (
        principal.subject_type == "staff"
        and may_read(principal)
        and bool(principal.uscc)
        and case.handler_org_uscc == principal.uscc
    )


def _visible(principal: Principal) -> Any:
    """The SQL filter matching :func:`is_applicant` or :func:`is_handling_staff`."""
    if not may_read(principal):
        return None
    if principal.subject_type == "natural" and principal.id_ref:
        return and_(
            CaseRow.applicant_type == "natural", CaseRow.applicant_id_ref == principal.id_ref
        )
    if principal.subject_type == "legal" and principal.uscc:
        return and_(CaseRow.applicant_type == "legal", CaseRow.applicant_id_ref == principal.uscc)
    if principal.subject_type == "staff" and principal.uscc:
        return CaseRow.handler_org_uscc == principal.uscc
    return None


def _local(value: datetime | None) -> str | None:
    return value.astimezone(LOCAL_TZ).isoformat() if value is not None else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _clock_state(case: CaseRow) -> str:
    if case.limit_days is None or case.accepted_at is None:
        return "none"
    if case.closed_at is not None:
        return "stopped"
    return "paused" if case.paused else "running"


def summary(case: CaseRow) -> dict[str, Any]:
    return {
        "case_no": case.case_no,
        "implementation_code": case.implementation_code,
        "matter_name": case.matter_name,
        "case_type": case.case_type,
        "stage": case.stage,
        "stage_since": _local(case.stage_since),
        "submitted_at": _local(case.submitted_at),
        "accepted_at": _local(case.accepted_at),
        "closed_at": _local(case.closed_at),
        "due_date": _day(case.due_date),
        # 暂定: counted over days no official holiday schedule covers yet.
        "due_date_provisional": bool(case.due_date_provisional),
        "clock": _clock_state(case),
    }


async def case_detail(
    session: AsyncSession,
    casework: Casework,
    principal: Principal,
    case_no: str,
    today: date | None = None,
) -> dict[str, Any]:
    case = await repo.get_case(session, case_no.strip().upper()) if len(case_no) <= 64 else None
    if case is None:
        raise _not_found(case_no)
    owner = is_applicant(principal, case)
    staff = is_handling_staff(principal, case)
    if not (owner or staff):
        raise _not_found(case_no)
    rows = await repo.history(session, case.case_no)
    state = fold(repo.to_domain(r) for r in rows)
    today = today or local_date(utcnow())
    limits = Limits(case.promised_limit_days, case.statutory_limit_days)
    by_key = {(r.source_system, r.event_id): r for r in rows}
    stages = []
    for step in state.steps:
        row = by_key[step.key]
        item = {
            "stage": step.stage.value,
            "occurred_at": _local(step.occurred_at),
            "seq": step.seq,
            "channel": row.channel,
            "source_system": row.source_system,
            "department": row.handler_department,
            "applied": step.applied,
        }
        if staff:
            item |= {"staff_no": row.handler_staff_no, "event_id": row.event_id}
            item |= {"anomaly": step.anomaly}
        stages.append(item)
    body = summary(case) | {
        "decided_at": _local(case.decided_at),
        "concluded_at": _local(case.concluded_at),
        "delivered_at": _local(case.delivered_at),
        "limit_days": case.limit_days,
        "promised_limit_days": case.promised_limit_days,
        "statutory_limit_days": case.statutory_limit_days,
        "statutory_due_date": _day(case.statutory_due_date),
        "remaining_working_days": remaining_working_days(state, limits, casework.calendar, today),
        "paused_working_days": case.paused_working_days,
        "decision": case.decision,
        "certificate_type": case.certificate_type,
        "handler": {"org_uscc": case.handler_org_uscc, "department": case.handler_department},
        "applicant": _applicant_view(casework, case, owner),
        "stages": stages,
    }
    if staff:
        warnings = await repo.case_warnings(session, case.case_no)
        body["anomaly_count"] = case.anomaly_count
        body["warnings"] = [warning_view(w) for w in warnings]
    return body


def _applicant_view(casework: Casework, case: CaseRow, owner: bool) -> dict[str, Any] | None:
    if not case.applicant_type or not case.applicant_id_enc:
        return None
    id_no = casework.cipher.decrypt(case.applicant_id_enc, context="applicant_id")
    name = (
        casework.cipher.decrypt(case.applicant_name_enc or "", context="applicant_name")
        if (case.applicant_name_enc)
        else None
    )
    if not owner and case.applicant_type == "natural":
        id_no = mask_citizen_id(id_no)
    return {
        "type": case.applicant_type,
        "id_type": case.applicant_id_type,
        "id_no": id_no,
        "name": name,
    }


def warning_view(w: WarningRow) -> dict[str, Any]:
    return {
        "id": w.id,
        "case_no": w.case_no,
        "org_uscc": w.org_uscc,
        "kind": w.kind,
        "level": w.level,
        "scope": w.scope,
        "detail": w.detail,
        "raised_at": _local(w.raised_at),
        "closed_at": _local(w.closed_at),
        "status": _warning_status(w),
    }


def _warning_status(w: WarningRow) -> str:
    if (w.detail or {}).get("withdrawn"):
        return "withdrawn"  # raised on a history a late event refuted
    return "closed" if w.closed_at else "open"


# -- lists with cursor pagination -------------------------------------------------------


def _bad_cursor() -> Problem:
    return Problem(400, "the cursor is not one this service gave out", code="bad-cursor")


def _encode(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(cursor: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(value, dict):
        raise _bad_cursor()
    return value


async def my_cases(
    session: AsyncSession,
    principal: Principal,
    *,
    stage: str | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """Cases visible to ``principal``, newest first (keyset on created_at, case_no)."""
    visible = _visible(principal)
    if visible is None:
        return {"items": [], "next_cursor": None}
    stmt = select(CaseRow).where(visible)
    if stage:
        stmt = stmt.where(CaseRow.stage == stage)
    if cursor:
        c = _decode(cursor)
        try:
            at, key = datetime.fromisoformat(c["t"]), str(c["k"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad_cursor() from exc
        stmt = stmt.where(
            or_(CaseRow.created_at < at, and_(CaseRow.created_at == at, CaseRow.case_no < key))
        )
    stmt = stmt.order_by(CaseRow.created_at.desc(), CaseRow.case_no.desc()).limit(limit + 1)
    rows = list((await session.execute(stmt)).scalars())
    page, more = rows[:limit], len(rows) > limit
    next_cursor = None
    if more:
        last = page[-1]
        next_cursor = _encode({"t": last.created_at.isoformat(), "k": last.case_no})
    return {"items": [summary(r) for r in page], "next_cursor": next_cursor}


async def org_warnings(
    session: AsyncSession,
    principal: Principal,
    *,
    level: str | None,
    status: str | None,
    kind: str | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    if principal.subject_type != "staff" or not principal.uscc or not may_read(principal):
        raise Problem(404, "no supervision list is visible to you", code="not-found")
    stmt = select(WarningRow).where(WarningRow.org_uscc == principal.uscc)
    if level:
        stmt = stmt.where(WarningRow.level == level)
    if kind:
        stmt = stmt.where(WarningRow.kind == kind)
    if status == "open":
        stmt = stmt.where(WarningRow.closed_at.is_(None))
    elif status == "closed":
        stmt = stmt.where(WarningRow.closed_at.is_not(None))
    if cursor:
        c = _decode(cursor)
        if not isinstance(c.get("id"), int):
            raise _bad_cursor()
        stmt = stmt.where(WarningRow.id < c["id"])
    stmt = stmt.order_by(WarningRow.id.desc()).limit(limit + 1)
    rows = list((await session.execute(stmt)).scalars())
    page, more = rows[:limit], len(rows) > limit
    return {
        "items": [warning_view(w) for w in page],
        "next_cursor": _encode({"id": page[-1].id}) if more else None,
    }


async def org_provisional(
    session: AsyncSession, principal: Principal, *, cursor: str | None, limit: int
) -> dict[str, Any]:
    """The caller's org's cases whose due dates are provisional (暂定), by case number."""
    if principal.subject_type != "staff" or not principal.uscc:
        raise Problem(404, "no supervision list is visible to you", code="not-found")
    after = None
    if cursor:
        c = _decode(cursor)
        if not isinstance(c.get("case_no"), str):
            raise _bad_cursor()
        after = c["case_no"]
    rows = await repo.provisional_cases(
        session, after=after, limit=limit + 1, org_uscc=principal.uscc
    )
    page, more = rows[:limit], len(rows) > limit
    return {
        "items": [summary(r) | {"statutory_due_date": _day(r.statutory_due_date)} for r in page],
        "next_cursor": _encode({"case_no": page[-1].case_no}) if more else None,
    }
