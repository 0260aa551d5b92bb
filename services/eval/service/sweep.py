"""The periodic job: 默认评价 after the window, then overdue warnings."""

from __future__ import annotations

import datetime as dt

from services.eval.service.calendar import refresh_db
from services.eval.service.context import EvalContext
from services.eval.service.handling import raise_warnings
from services.eval.service.rating import give_default_ratings
from services.runtime.db import Database, utcnow


async def sweep(ctx: EvalContext, db: Database, now: dt.datetime | None = None) -> tuple[int, int]:
    now = now or utcnow()
    await refresh_db(ctx, db)
    return await give_default_ratings(ctx, db, now), await raise_warnings(ctx, db, now)
