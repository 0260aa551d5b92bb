"""Background work of the intake adapters: pollers per source and a janitor.

Started and stopped with the gateway process (``hub.on_startup`` / ``hub.on_shutdown``).
A failing poll (department database down, unreadable directory) is logged and retried
with backoff; it never stops the other sources or the process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from gateway.adapters.intake.exchange_table import ExchangeTableAdapter
from gateway.adapters.intake.file_drop import FileDropAdapter
from gateway.settings import GatewaySettings
from gateway.store import idempotency, nonces
from services.runtime.app import Hub

log = logging.getLogger("hub.gateway.intake.workers")

JANITOR_INTERVAL = 300.0
MAX_BACKOFF = 60.0


class IntakeWorkers:
    def __init__(self, hub: Hub, settings: GatewaySettings) -> None:
        self.hub = hub
        self.settings = settings
        self.exchange = [ExchangeTableAdapter(hub, s) for s in settings.intake_exchange_sources]
        self.files = [FileDropAdapter(hub, s) for s in settings.intake_file_sources]
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, _hub: Hub | None = None) -> None:
        interval = self.settings.intake_poll_interval
        for adapter in self.exchange:
            self._spawn(adapter.key, adapter.poll_once, interval)
        for files in self.files:
            self._spawn(files.key, files.poll_once, interval)
        self._spawn("intake-janitor", self.janitor_once, JANITOR_INTERVAL)

    def _spawn(self, name: str, poll: Callable[[], Awaitable[int]], interval: float) -> None:
        self._tasks.append(asyncio.create_task(_loop(name, poll, interval), name=name))

    async def janitor_once(self) -> int:
        ttl = timedelta(hours=self.settings.intake_idempotency_ttl_hours)
        return await nonces.purge_expired(self.hub.db) + await idempotency.purge_older_than(
            self.hub.db, ttl
        )

    async def stop(self, _hub: Hub | None = None) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        for adapter in self.exchange:
            await adapter.close()


async def _loop(name: str, poll: Callable[[], Awaitable[int]], interval: float) -> None:
    backoff = interval
    while True:
        try:
            busy = await poll()
            backoff = interval
            # A full batch means more may be waiting: poll again at once.
            await asyncio.sleep(0 if busy else interval)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("intake poller %s failed; retrying in %.1fs", name, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
