"""Background work of the intake adapters: pollers per source and a janitor.

Started and stopped with the gateway process (``hub.on_startup`` / ``hub.on_shutdown``).
A failing poll (department database down, unreadable directory) is logged and retried
with backoff; it never stops the other sources or the process.
"""

from __future__ import annotations

import logging
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

    def register(self) -> None:
        """Poll every source (and purge expired nonces) while the gateway runs."""
        interval = self.settings.intake_poll_interval
        for adapter in self.exchange:
            self.hub.background.every(adapter.key, adapter.poll_once, interval, MAX_BACKOFF)
        for files in self.files:
            self.hub.background.every(files.key, files.poll_once, interval, MAX_BACKOFF)
        self.hub.background.every(
            "intake-janitor", self.janitor_once, JANITOR_INTERVAL, MAX_BACKOFF
        )

    async def janitor_once(self) -> int:
        ttl = timedelta(hours=self.settings.intake_idempotency_ttl_hours)
        return await nonces.purge_expired(self.hub.db) + await idempotency.purge_older_than(
            self.hub.db, ttl
        )

    async def close(self, _hub: Hub | None = None) -> None:
        for adapter in self.exchange:
            await adapter.close()
