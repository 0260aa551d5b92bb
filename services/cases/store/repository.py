"""Reading and writing the cases tables; conversions between rows and domain values."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.domain.history import CaseEvent, Handler
from services.cases.domain.stages import CaseType, Stage
from services.cases.store.tables import (
    CalendarYearRow,
    CaseEventRow,
    CaseRow,
    MatterReplica,
    ParkedEvent,
    WarningRow,
)


async def lock_matter_code(session: AsyncSession, code: str) -> None:
    """Serialise parking and unparking for one 实施编码 until commit.

    Without it an event could read "matter unknown" while the matter's transaction is
    committing, and park after that transaction looked for parked events: parked for
    nothing. On PostgreSQL a transaction-level advisory lock orders the two; SQLite has a
    single writer, and a stale read there fails the write and is retried.
    """
    if session.bind.dialect.name != "postgresql":
        return
    key = zlib.crc32(f"cases-matter:{code}".encode())
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


async def lock_case(session: AsyncSession, case_no: str) -> CaseRow | None:
    """The case row, locked until commit (the matter consumer may unpark into it too)."""
    stmt = select(CaseRow).where(CaseRow.case_no == case_no).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_case(session: AsyncSession, case_no: str) -> CaseRow | None:
    return await session.get(CaseRow, case_no)


async def get_matter(session: AsyncSession, code: str) -> MatterReplica | None:
    return await session.get(MatterReplica, code)


async def history(session: AsyncSession, case_no: str) -> list[CaseEventRow]:
    stmt = select(CaseEventRow).where(CaseEventRow.case_no == case_no).order_by(CaseEventRow.id)
    return list((await session.execute(stmt)).scalars())


async def seen_event(session: AsyncSession, case_no: str, source: str, event_id: str) -> bool:
    stmt = select(CaseEventRow.id).where(
        CaseEventRow.case_no == case_no,
        CaseEventRow.source_system == source,
        CaseEventRow.event_id == event_id,
    )
    return (await session.scalar(stmt)) is not None


def to_domain(row: CaseEventRow) -> CaseEvent:
    handler = None
    if row.handler_org_uscc or row.handler_department or row.handler_staff_no:
        handler = Handler(row.handler_org_uscc, row.handler_department, row.handler_staff_no)
    return CaseEvent(
        event_id=row.event_id,
        source_system=row.source_system,
        stage=Stage(row.stage),
        occurred_at=row.occurred_at,
        seq=row.seq,
        channel=row.channel,
        case_type=CaseType(row.case_type) if row.case_type else None,
        handler=handler,
        decision=row.decision,
        certificate_type=row.certificate_type,
        reason=row.reason,
        # Who the applicant is, comparably and without personal data: natural persons by
        # the blind index of the ID number, legal persons by USCC.
        applicant=(row.applicant_type, row.applicant_id_ref) if row.applicant_type else None,
    )


async def warning_scopes(session: AsyncSession, case_no: str) -> set[tuple[str, str]]:
    stmt = select(WarningRow.kind, WarningRow.scope).where(WarningRow.case_no == case_no)
    return {(k, s) for k, s in (await session.execute(stmt)).all()}


async def open_warnings(session: AsyncSession, case_no: str) -> Sequence[WarningRow]:
    stmt = select(WarningRow).where(WarningRow.case_no == case_no, WarningRow.closed_at.is_(None))
    return list((await session.execute(stmt)).scalars())


async def case_warnings(session: AsyncSession, case_no: str) -> Sequence[WarningRow]:
    stmt = select(WarningRow).where(WarningRow.case_no == case_no).order_by(WarningRow.id)
    return list((await session.execute(stmt)).scalars())


async def due_for_supervision(session: AsyncSession, today: date, limit: int) -> list[str]:
    stmt = (
        select(CaseRow.case_no)
        .where(CaseRow.supervision_due.is_not(None), CaseRow.supervision_due <= today)
        .order_by(CaseRow.supervision_due, CaseRow.case_no)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def parked_for(session: AsyncSession, code: str, limit: int) -> list[ParkedEvent]:
    stmt = (
        select(ParkedEvent)
        .where(ParkedEvent.implementation_code == code)
        .order_by(ParkedEvent.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def parked_with_published_matter(session: AsyncSession, limit: int) -> list[str]:
    """实施编码 with parked events whose matter has been published meanwhile."""
    stmt = (
        select(ParkedEvent.implementation_code)
        .join(
            MatterReplica,
            MatterReplica.implementation_code == ParkedEvent.implementation_code,
        )
        .where(MatterReplica.status == "published")
        .distinct()
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


# -- working-day calendar (official schedules) and provisional due dates ---------------------


async def calendar_years(session: AsyncSession) -> list[CalendarYearRow]:
    return list((await session.execute(select(CalendarYearRow))).scalars())


async def save_calendar_year(
    session: AsyncSession, year: int, holidays: list[str], workdays: list[str], loaded_at: datetime
) -> None:
    row = await session.get(CalendarYearRow, year, with_for_update=True)
    if row is None:
        session.add(
            CalendarYearRow(year=year, holidays=holidays, workdays=workdays, loaded_at=loaded_at)
        )
    else:
        row.holidays, row.workdays, row.loaded_at = holidays, workdays, loaded_at
    await session.flush()


async def calendar_version(session: AsyncSession) -> tuple[int, datetime | None]:
    """(years, newest load): changes whenever a schedule is stored."""
    stmt = select(func.count(), func.max(CalendarYearRow.loaded_at))
    count, newest = (await session.execute(stmt)).one()
    return int(count), newest


async def provisional_cases(
    session: AsyncSession,
    *,
    after: str | None = None,
    limit: int = 500,
    org_uscc: str | None = None,
) -> list[CaseRow]:
    """Cases whose dates were counted over provisional days, by case number."""
    stmt = select(CaseRow).where(CaseRow.due_date_provisional.is_(True))
    if org_uscc is not None:
        stmt = stmt.where(CaseRow.handler_org_uscc == org_uscc)
    if after is not None:
        stmt = stmt.where(CaseRow.case_no > after)
    stmt = stmt.order_by(CaseRow.case_no).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def provisional_case_dates(
    session: AsyncSession,
) -> list[tuple[str, datetime | None, date | None, date | None, date | None]]:
    """(case_no, accepted_at, due_date, statutory_due_date, red_on) of provisional cases."""
    stmt = select(
        CaseRow.case_no,
        CaseRow.accepted_at,
        CaseRow.due_date,
        CaseRow.statutory_due_date,
        CaseRow.red_on,
    ).where(CaseRow.due_date_provisional.is_(True))
    return [tuple(r) for r in (await session.execute(stmt)).all()]  # type: ignore[misc]
