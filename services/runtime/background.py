"""Periodic background work of a process (pollers, scans, sync), started and stopped
with the app. A failing round is logged and retried with backoff; it never stops the
process or the other tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("hub.background")

Step = Callable[[], Awaitable[Any]]


async def run_periodically(name: str, step: Step, interval: float, max_backoff: float) -> None:
    """Call ``step`` every ``interval`` seconds; at once again when it reports it was busy
    (returns a truthy value, e.g. a full batch), with growing waits after failures."""
    backoff = interval
    while True:
        try:
            busy = await step()
            backoff = interval
            await asyncio.sleep(0 if busy else interval)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task %s failed; retrying in %.1fs", name, backoff)
            await asyncio.sleep(backoff)
            backoff = min(max(backoff, 0.1) * 2, max_backoff)


class BackgroundTasks:
    """The tasks one process runs beside its requests."""

    def __init__(self) -> None:
        self._periodic: list[tuple[str, Step, float, float]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def every(self, name: str, step: Step, interval: float, max_backoff: float = 60.0) -> None:
        """Register periodic work; it starts with the app."""
        self._periodic.append((name, step, interval, max_backoff))

    def spawn(self, name: str, coro: Awaitable[None]) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))  # type: ignore[arg-type]

    async def start(self) -> None:
        for name, step, interval, max_backoff in self._periodic:
            self.spawn(name, run_periodically(name, step, interval, max_backoff))

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        self._tasks.clear()


async def cancel_all(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel tasks and wait until each has finished (errors on the way out are dropped)."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
