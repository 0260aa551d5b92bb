"""The working-day calendar the matters service owns (工作日历): official holiday
schedules loaded by operators (``hub calendar load FILE``), stored in ``calendar_years``
and published as ``hub.calendar.year_loaded`` for the services that count deadlines.

Years without a loaded schedule or package data are provisional
(:mod:`services.runtime.calendar`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.matters.store import repository as repo
from services.matters.store.tables import CalendarYear
from services.runtime.app import Hub
from services.runtime.calendar import WorkingCalendar, YearSchedule
from services.runtime.db import Database, utcnow

YEAR_LOADED_EVENT = "hub.calendar.year_loaded"

Progress = Callable[[int, int, int], None]  # (done, total, year just loaded)


async def load_schedules(
    hub: Hub,
    schedules: list[YearSchedule],
    *,
    loaded_by: str,
    progress: Progress | None = None,
) -> list[int]:
    """Store each year's schedule and tell it, one transaction per year (a later year's
    failure leaves the earlier ones loaded). Returns the years loaded."""
    loaded: list[int] = []
    for n, schedule in enumerate(sorted(schedules, key=lambda s: s.year), start=1):
        async with hub.db.transaction() as session:
            await store_year(hub, session, schedule, loaded_by=loaded_by, now=utcnow())
        loaded.append(schedule.year)
        if progress is not None:
            progress(n, len(schedules), schedule.year)
    return loaded


async def store_year(
    hub: Hub, session: AsyncSession, schedule: YearSchedule, *, loaded_by: str, now: datetime
) -> None:
    holidays = [d.isoformat() for d in schedule.holidays]
    workdays = [d.isoformat() for d in schedule.workdays]
    row = await repo.calendar_year(session, schedule.year, lock=True)
    if row is None:
        row = CalendarYear(year=schedule.year)
        session.add(row)
    row.holidays, row.workdays, row.loaded_at, row.loaded_by = holidays, workdays, now, loaded_by
    await session.flush()
    await hub.messaging.publish(
        session,
        YEAR_LOADED_EVENT,
        key=str(schedule.year),
        subject=str(schedule.year),
        data={
            "year": schedule.year,
            "holidays": holidays,
            "workdays": workdays,
            "loaded_at": now.isoformat(),
            "loaded_by": loaded_by,
        },
        occurred_at=now,
    )


async def loaded_years(db: Database) -> list[tuple[int, int, int, str, str]]:
    """(year, holidays, workdays, loaded_at, loaded_by) of every loaded schedule."""
    async with db.transaction() as session:
        rows = await repo.calendar_years(session)
        return [
            (r.year, len(r.holidays), len(r.workdays), r.loaded_at.isoformat(), r.loaded_by or "")
            for r in rows
        ]


class MattersCalendar:
    """The process's :class:`WorkingCalendar`, brought up to date with the schedules in
    ``calendar_years`` (loaded by the CLI or another process) before it is used."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar
        self._version: tuple[int, datetime | None] = (0, None)

    async def current(self, session: AsyncSession) -> WorkingCalendar:
        version = await repo.calendar_version(session)
        if version != self._version:
            for row in await repo.calendar_years(session):
                self.calendar.load_year(YearSchedule.parse(row.year, row.holidays, row.workdays))
            self._version = version
        return self.calendar
