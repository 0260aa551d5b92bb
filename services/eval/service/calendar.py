"""Official holiday schedules (``hub.calendar.year_loaded`` from matters): stored, counted
on, and the provisional deadlines of open rectifications counted again."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.eval.domain import rectification as rect
from services.eval.events import facts
from services.eval.service import records
from services.eval.service.context import EvalContext
from services.eval.store.tables import CalendarYearRow, RectificationRow
from services.runtime.calendar import YearSchedule
from services.runtime.db import Database, utcnow

log = logging.getLogger("hub.eval")


async def refresh(ctx: EvalContext, session: AsyncSession) -> None:
    """Count on every schedule stored (at startup and before each sweep: another process
    of the service may have stored one)."""
    for row in (await session.execute(select(CalendarYearRow))).scalars():
        if row.year not in ctx.calendar.loaded_years:
            ctx.calendar.load_year(YearSchedule.parse(row.year, row.holidays, row.workdays))


async def refresh_db(ctx: EvalContext, db: Database) -> None:
    async with db.sessionmaker() as session:
        await refresh(ctx, session)


async def year_loaded(
    ctx: EvalContext, session: AsyncSession, data: dict[str, Any], now: dt.datetime | None = None
) -> int:
    """Store the schedule, count on it, recount provisional deadlines; returns how many."""
    now = now or utcnow()
    schedule = YearSchedule.parse(data["year"], data.get("holidays"), data.get("workdays"))
    row = await session.get(CalendarYearRow, schedule.year)
    holidays = [d.isoformat() for d in schedule.holidays]
    workdays = [d.isoformat() for d in schedule.workdays]
    if row is None:
        session.add(
            CalendarYearRow(year=schedule.year, holidays=holidays, workdays=workdays, loaded_at=now)
        )
    else:
        row.holidays, row.workdays, row.loaded_at = holidays, workdays, now
    ctx.calendar.load_year(schedule)
    stmt = (
        select(RectificationRow).where(RectificationRow.due_provisional.is_(True)).with_for_update()
    )
    count = 0
    for r in (await session.execute(stmt)).scalars():
        current = records.as_domain(r)
        again = rect.recount(current, ctx.deadlines, ctx.calendar, rect.division_of_org(r.org_uscc))
        if again == current:
            continue
        records.store(r, again)
        r.updated_at = now
        await facts.rectification_changed(
            ctx.publish, session, r, action="recount", before=r.state, at=now
        )
        count += 1
    log.info("calendar %d loaded: %d rectification deadlines recounted", schedule.year, count)
    return count
