"""``hub cases …`` commands (mounted by the lead in hub/cli.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import typer

from services.cases.casework import Casework
from services.cases.domain.history import LOCAL_TZ
from services.cases.settings import CasesSettings
from services.cases.store import repository
from services.cases.store.tables import CaseRow
from services.cases.supervisor import supervise_once
from services.runtime.db import Database
from services.runtime.messaging import Messaging

app = typer.Typer(help="办件 (cases service) operations", no_args_is_help=True)


@app.command()
def supervise(
    now: str = typer.Option("", help="ISO 8601 time to evaluate at (default: now)"),
) -> None:
    """Run one 电子监察 pass now (raise due yellow/red warnings, release parked events)."""

    async def run() -> int:
        settings = CasesSettings()
        db = Database(settings.resolved_database_url())
        messaging = Messaging(settings, db)
        try:
            casework = Casework(settings, messaging.publish)
            at = datetime.fromisoformat(now) if now else None
            if at is not None and at.tzinfo is None:
                at = at.replace(tzinfo=LOCAL_TZ)  # a bare time is a local (Beijing) time
            return await supervise_once(db, casework, at)
        finally:
            await db.dispose()

    typer.echo(f"warnings raised: {asyncio.run(run())}")


@app.command()
def provisional(
    limit: int = typer.Option(1000, help="list at most this many"),
) -> None:
    """List every case whose due date is provisional (counted before the year's official
    holiday schedule was loaded; recomputed by `hub calendar load`)."""

    async def run() -> list[CaseRow]:
        settings = CasesSettings()
        db = Database(settings.resolved_database_url())
        try:
            async with db.transaction() as session:
                return await repository.provisional_cases(session, limit=limit)
        finally:
            await db.dispose()

    rows = asyncio.run(run())
    for r in rows:
        typer.echo(
            f"{r.case_no}\t{r.stage}\tdue {r.due_date}\tstatutory {r.statutory_due_date}"
            f"\t{r.handler_org_uscc}"
        )
    typer.echo(f"provisional due dates: {len(rows)}")
