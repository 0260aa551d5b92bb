"""The periodic 电子监察 pass: raises due warnings, sweeps parked events whose matter
has arrived and recomputes provisional due dates an official schedule now covers. It
runs as the hub's background task ``cases-supervision`` (started and stopped with the
app, failures logged and retried with backoff). Tests call
:func:`supervise_once` directly with an injected ``now``."""

from __future__ import annotations

import logging
from datetime import datetime

from services.cases.casework import Casework
from services.runtime.app import Hub
from services.runtime.db import Database, utcnow

log = logging.getLogger("hub.cases.supervision")


async def supervise_once(db: Database, casework: Casework, now: datetime | None = None) -> int:
    """One pass; returns the number of warnings raised. Each batch commits on its own."""
    now = now or utcnow()
    async with db.transaction() as session:
        await casework.unpark_ready(session, now)
    async with db.transaction() as session:
        # Schedules another process stored, and provisional dates they now cover (a
        # case whose event raced with the schedule's arrival).
        await casework.refresh_calendar(session)
        await casework.recompute_provisional(session, now)
    raised, batch = 0, 500
    while True:
        async with db.transaction() as session:
            evaluated, count = await casework.scan(session, now, batch=batch)
        raised += count
        if evaluated < batch:
            return raised


def start(hub: Hub, casework: Casework, interval: float) -> None:
    """Register the scan as periodic background work of the hub."""

    async def step() -> None:
        raised = await supervise_once(hub.db, casework)
        if raised:
            log.info("supervision raised %d warnings", raised)

    hub.background.every("cases-supervision", step, interval)
