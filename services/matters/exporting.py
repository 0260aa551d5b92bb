"""Which versions an export contains (the head, or the published one, of every item)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select

from services.matters.store.tables import Matter, MatterVersion
from services.runtime.db import Database


async def items_for_export(
    db: Database, *, published_only: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    number = Matter.published_version if published_only else Matter.head_version
    stmt = (
        select(Matter.implementation_code, MatterVersion.content)
        .join(
            MatterVersion,
            and_(
                MatterVersion.implementation_code == Matter.implementation_code,
                MatterVersion.version == number,
            ),
        )
        .order_by(Matter.implementation_code)
    )
    if published_only:
        stmt = stmt.where(Matter.withdrawn.is_(False))
    async with db.sessionmaker() as session:
        return [(code, dict(content)) for code, content in (await session.execute(stmt)).all()]
