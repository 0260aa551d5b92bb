"""``hub certs …`` commands (mounted by the lead in hub/cli.py)."""

from __future__ import annotations

import asyncio

import typer

from services.certs.service.context import CertsContext
from services.certs.service.lifecycle import sweep as sweep_once
from services.certs.settings import CertsSettings
from services.runtime.db import Database
from services.runtime.messaging import Messaging
from services.runtime.pii import pii_cipher

app = typer.Typer(help="电子证照 (certs service) operations", no_args_is_help=True)


@app.command()
def sweep() -> None:
    """Apply the 过期 and overdue-年检 changes due today (run daily)."""

    async def run() -> int:
        settings = CertsSettings()
        db = Database(settings.resolved_database_url())
        messaging = Messaging(settings, db)
        try:
            ctx = CertsContext(settings, messaging.publish, pii_cipher(settings))
            return await sweep_once(ctx, db)
        finally:
            await db.dispose()

    typer.echo(f"certificates changed: {asyncio.run(run())}")
