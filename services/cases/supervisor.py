"""The periodic 电子监察 pass: a background task that raises due warnings and sweeps
parked events whose matter has arrived. Tests call :func:`supervise_once` directly with
an injected ``now``."""

from __future__ import annotations

import asyncio
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
    raised, batch = 0, 500
    while True:
        async with db.transaction() as session:
            evaluated, count = await casework.scan(session, now, batch=batch)
        raised += count
        if evaluated < batch:
            return raised


def start(hub: Hub, casework: Casework, interval: float) -> None:
    """Register the background scan on the hub's startup/shutdown hooks."""

    async def loop() -> None:
        while True:
            try:
                raised = await supervise_once(hub.db, casework)
                if raised:
                    log.info("supervision raised %d warnings", raised)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("supervision pass failed; retrying next interval")
            await asyncio.sleep(interval)

    async def on_startup(_hub: Hub) -> None:
        _hub.extras["cases_supervisor"] = asyncio.create_task(loop(), name="cases-supervision")

    async def on_shutdown(_hub: Hub) -> None:
        task = _hub.extras.pop("cases_supervisor", None)
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    hub.on_startup.append(on_startup)
    hub.on_shutdown.append(on_shutdown)
