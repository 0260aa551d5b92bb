"""Reads and writes of the catalog tables (no business rules here)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.matters.store.tables import (
    BaseItem,
    CalendarYear,
    Matter,
    MatterVersion,
    SearchDoc,
    SearchTerm,
    SyncIssue,
    SyncState,
)


async def get_matter(session: AsyncSession, code: str, *, lock: bool = False) -> Matter | None:
    stmt = select(Matter).where(Matter.implementation_code == code)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_version(session: AsyncSession, code: str, version: int) -> MatterVersion | None:
    stmt = select(MatterVersion).where(
        MatterVersion.implementation_code == code, MatterVersion.version == version
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_versions(session: AsyncSession, code: str) -> Sequence[MatterVersion]:
    stmt = (
        select(MatterVersion)
        .where(MatterVersion.implementation_code == code)
        .order_by(MatterVersion.version)
    )
    return (await session.execute(stmt)).scalars().all()


async def versions_after(
    session: AsyncSession, code: str, after: int | None
) -> Sequence[MatterVersion]:
    stmt = select(MatterVersion).where(MatterVersion.implementation_code == code)
    if after is not None:
        stmt = stmt.where(MatterVersion.version > after)
    return (await session.execute(stmt.order_by(MatterVersion.version))).scalars().all()


async def get_base_item(session: AsyncSession, base_code: str) -> BaseItem | None:
    return await session.get(BaseItem, base_code)


async def replace_index(session: AsyncSession, doc: dict[str, Any], terms: dict[str, int]) -> None:
    """Swap the search document and terms of one item (in the caller's transaction)."""
    code = doc["implementation_code"]
    await remove_index(session, code)
    await session.execute(insert(SearchDoc), [doc])
    if terms:
        await session.execute(
            insert(SearchTerm),
            [{"implementation_code": code, "term": t, "weight": w} for t, w in terms.items()],
        )


async def remove_index(session: AsyncSession, code: str) -> None:
    await session.execute(delete(SearchTerm).where(SearchTerm.implementation_code == code))
    await session.execute(delete(SearchDoc).where(SearchDoc.implementation_code == code))


async def get_sync_state(session: AsyncSession, feed: str) -> SyncState:
    state = await session.get(SyncState, feed)
    if state is None:
        state = SyncState(feed=feed, cursor=None, applied=0)
        session.add(state)
        await session.flush()
    return state


async def list_issues(
    session: AsyncSession, status: str | None, limit: int, offset: int
) -> Sequence[SyncIssue]:
    stmt = select(SyncIssue)
    if status:
        stmt = stmt.where(SyncIssue.status == status)
    stmt = stmt.order_by(SyncIssue.id).limit(limit).offset(offset)
    return (await session.execute(stmt)).scalars().all()


# -- working-day calendar (official schedules) ----------------------------------------------


async def calendar_year(
    session: AsyncSession, year: int, *, lock: bool = False
) -> CalendarYear | None:
    return await session.get(CalendarYear, year, with_for_update=lock)


async def calendar_years(session: AsyncSession) -> list[CalendarYear]:
    return list((await session.execute(select(CalendarYear).order_by(CalendarYear.year))).scalars())


async def calendar_version(session: AsyncSession) -> tuple[int, datetime | None]:
    """(years, newest load): changes whenever a schedule is stored."""
    count, newest = (
        await session.execute(select(func.count(), func.max(CalendarYear.loaded_at)))
    ).one()
    return int(count), newest
