"""Background work of the intake adapters: pollers per source and a janitor.

Started and stopped with the gateway process (``hub.on_startup`` / ``hub.on_shutdown``).
A failing poll (department database down, unreadable directory) is logged and retried
with backoff; it never stops the other sources or the process.
"""

from __future__ import annotations

import logging

from gateway.adapters.intake.exchange_table import ExchangeTableAdapter
from gateway.adapters.intake.file_drop import FileDropAdapter
from gateway.settings import GatewaySettings
from services.runtime.app import Hub

log = logging.getLogger("hub.gateway.intake.workers")

MAX_BACKOFF = 60.0


class IntakeWorkers:
    def __init__(self, hub: Hub, settings: GatewaySettings) -> None:
        self.hub = hub
        self.settings = settings
        self.exchange = [ExchangeTableAdapter(hub, s) for s in settings.intake_exchange_sources]
        self.files = [FileDropAdapter(hub, s) for s in settings.intake_file_sources]

    def register(self) -> None:
        """Poll every source while the gateway runs (retention purges expired nonces)."""
        interval = self.settings.intake_poll_interval
        for adapter in self.exchange:
            self.hub.background.every(adapter.key, adapter.poll_once, interval, MAX_BACKOFF)
        for files in self.files:
            self.hub.background.every(files.key, files.poll_once, interval, MAX_BACKOFF)

    async def close(self, _hub: Hub | None = None) -> None:
        for adapter in self.exchange:
            await adapter.close()
