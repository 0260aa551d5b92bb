"""Facts the cases service tells on ``hub.cases`` (written to the outbox by the caller's
transaction). Schemas: ``contracts/events/case-*.schema.json``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.store.tables import CaseRow, WarningRow

Publish = Callable[..., Awaitable[str]]

STATE_CHANGED = "hub.case.state.changed"
ACCEPTED = "hub.case.accepted"
CONCLUDED = "hub.case.concluded"
WARNING = "hub.case.warning"


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _applicant(case: CaseRow) -> dict[str, Any] | None:
    if not case.applicant_type:
        return None
    # id_ref only: the blind index (natural) or USCC (legal), never the ID number.
    return {
        "type": case.applicant_type,
        "id_type": case.applicant_id_type,
        "id_ref": case.applicant_id_ref,
        "name_masked": case.applicant_name_masked,
    }


def _base(case: CaseRow) -> dict[str, Any]:
    return {
        "case_no": case.case_no,
        "implementation_code": case.implementation_code,
        "matter_name": case.matter_name,
        "case_type": case.case_type,
        "handler": {"org_uscc": case.handler_org_uscc, "department": case.handler_department},
    }


async def state_changed(
    publish: Publish, session: AsyncSession, case: CaseRow, before: str | None, now: datetime
) -> None:
    data = _base(case) | {
        "from_stage": before,
        "to_stage": case.stage,
        "stage_since": _iso(case.stage_since),
        "due_date": _iso(case.due_date),
        "due_date_provisional": bool(case.due_date_provisional),
        "paused": case.paused,
        "anomaly_count": case.anomaly_count,
        # eval invites the applicant of a 不予受理 to rate it.
        "applicant": _applicant(case),
    }
    await publish(session, STATE_CHANGED, key=case.case_no, data=data, occurred_at=now)


async def accepted(publish: Publish, session: AsyncSession, case: CaseRow, now: datetime) -> None:
    data = _base(case) | {
        "accepted_at": _iso(case.accepted_at),
        "limit_days": case.limit_days,
        "due_date": _iso(case.due_date),
        "statutory_due_date": _iso(case.statutory_due_date),
        "due_date_provisional": bool(case.due_date_provisional),
        "applicant": _applicant(case),
    }
    await publish(session, ACCEPTED, key=case.case_no, data=data, occurred_at=now)


async def concluded(
    publish: Publish,
    session: AsyncSession,
    case: CaseRow,
    certificate_data: dict[str, Any] | None,
    now: datetime,
) -> None:
    data = _base(case) | {
        "accepted_at": _iso(case.accepted_at),
        "concluded_at": _iso(case.concluded_at),
        "due_date": _iso(case.due_date),
        "due_date_provisional": bool(case.due_date_provisional),
        "decision": case.decision,
        "certificate_type": case.certificate_type,
        "certificate_data": certificate_data,
        "applicant": _applicant(case),
    }
    await publish(session, CONCLUDED, key=case.case_no, data=data, occurred_at=now)


async def warning(publish: Publish, session: AsyncSession, case: CaseRow, row: WarningRow) -> None:
    data = {
        "warning_id": row.id,
        "case_no": case.case_no,
        "implementation_code": case.implementation_code,
        "org_uscc": row.org_uscc,
        "kind": row.kind,
        "level": row.level,
        "scope": row.scope,
        "raised_at": _iso(row.raised_at),
        "due_date": _iso(case.due_date),
        "due_date_provisional": bool(case.due_date_provisional),
        "detail": row.detail,
    }
    await publish(session, WARNING, key=case.case_no, data=data, occurred_at=row.raised_at)
