"""Public figures (GB/T 39735) by org, department, matter, channel or period."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.eval.domain.figures import Counts, rates
from services.eval.store import repository as repo


async def figures(
    session: AsyncSession,
    group_by: str,
    period_from: str | None,
    period_to: str | None,
    filters: dict[str, str],
) -> list[dict[str, Any]]:
    out = []
    for key, *numbers in await repo.figure_counts(
        session, group_by, period_from, period_to, filters
    ):
        counts = Counts(*(int(n) for n in numbers))
        out.append({"key": key, "counts": counts.__dict__} | rates(counts))
    return out
