"""``hub gateway …``: operators' commands for the external-system registry and the log.

hub gateway clients create-legacy --name 浈江区审批系统 --org 11440204000000527F
hub gateway clients register --client-id dept-scjg --name … --org USCC --channel exchange-table
hub gateway clients list
hub gateway clients disable sys-1a2b3c
hub gateway sources
hub gateway exchange-log verify

(``hub systems onboard`` does the whole onboarding: identity client + registration here.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy.exc import IntegrityError

from gateway.clients import registry
from gateway.settings import GatewaySettings
from gateway.store import exchange_log
from services.runtime.db import Database
from services.runtime.identifiers import InvalidIdentifier

T = TypeVar("T")

app = typer.Typer(help="Gateway: external systems and the exchange log", no_args_is_help=True)
clients_app = typer.Typer(help="Registry of county and department systems", no_args_is_help=True)
log_app = typer.Typer(help="The hash-chained exchange log", no_args_is_help=True)
app.add_typer(clients_app, name="clients")
app.add_typer(log_app, name="exchange-log")

DatabaseOption = typer.Option("", envvar="HUB_DATABASE_URL", help="gateway database URL")


def _run(database_url: str, work: Callable[[Database, GatewaySettings], Awaitable[T]]) -> T:
    settings = GatewaySettings(**({"database_url": database_url} if database_url else {}))

    async def main() -> T:
        db = Database(settings.resolved_database_url())
        try:
            return await work(db, settings)
        finally:
            await db.dispose()

    return asyncio.run(main())


@clients_app.command("create-legacy")
def create_legacy(
    name: str = typer.Option(..., help="system name, e.g. 浈江区行政审批系统"),
    org: list[str] = typer.Option(..., help="统一社会信用代码 of an org it reports for; repeat"),
    channel: list[str] = typer.Option(["soap"], help="allowed channel(s)"),
    client_id: str = typer.Option("", help="client id (generated when empty)"),
    database_url: str = DatabaseOption,
) -> None:
    """Register a system that signs its calls; prints client id, app key and secret as JSON.

    The secret is shown only now; the registry keeps it encrypted."""
    try:
        creds = _run(
            database_url,
            lambda db, s: registry.create_legacy_client(
                db,
                s,
                name=name,
                orgs=org,
                channels=tuple(channel),
                client_id=client_id or None,
            ),
        )
    except (InvalidIdentifier, ValueError, IntegrityError) as exc:
        typer.echo(f"error: {_reason(exc)}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(creds.as_dict(), ensure_ascii=False))


@clients_app.command("register")
def register(
    client_id: str = typer.Option(..., help="the OAuth client id / source_system"),
    name: str = typer.Option(..., help="system name"),
    org: list[str] = typer.Option(..., help="统一社会信用代码 of an org it reports for; repeat"),
    channel: list[str] = typer.Option(..., help="allowed channel(s): rest, exchange-table, file"),
    database_url: str = DatabaseOption,
) -> None:
    """Register a system without a secret (its OAuth client lives in identity)."""
    try:
        _run(
            database_url,
            lambda db, _s: registry.register_client(
                db, client_id=client_id, name=name, orgs=org, channels=channel
            ),
        )
    except (InvalidIdentifier, ValueError, IntegrityError) as exc:
        typer.echo(f"error: {_reason(exc)}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps({"client_id": client_id, "orgs": org, "channels": channel}))


def _reason(exc: Exception) -> str:
    return (
        "this client id or app key is already registered"
        if isinstance(exc, IntegrityError)
        else str(exc)
    )


@clients_app.command("list")
def list_clients(database_url: str = DatabaseOption) -> None:
    """One JSON line per registered system (never the secret)."""
    for client in _run(database_url, lambda db, _s: registry.list_clients(db)):
        typer.echo(
            json.dumps(
                {
                    "client_id": client.client_id,
                    "name": client.name,
                    "orgs": client.orgs,
                    "channels": client.channels,
                    "app_key": client.app_key,
                    "status": client.status,
                },
                ensure_ascii=False,
            )
        )


def _set_status(client_id: str, status: str, database_url: str) -> None:
    if not _run(database_url, lambda db, _s: registry.set_status(db, client_id, status)):
        typer.echo(f"error: no client {client_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{client_id}: {status}")


@clients_app.command("disable")
def disable(client_id: str, database_url: str = DatabaseOption) -> None:
    _set_status(client_id, "disabled", database_url)


@clients_app.command("enable")
def enable(client_id: str, database_url: str = DatabaseOption) -> None:
    _set_status(client_id, "active", database_url)


@app.command("sources")
def sources(database_url: str = DatabaseOption) -> None:
    """Each configured exchange-table / file source and whether the registry admits it
    (a source whose client is not registered, disabled or lacks the channel is not read)."""

    async def work(db: Database, settings: GatewaySettings) -> list[dict[str, str]]:
        configured = [
            (s.client_id, "exchange-table", f"{s.table} @ {s.dsn.rsplit('@', 1)[-1]}")
            for s in settings.intake_exchange_sources
        ] + [(s.client_id, "file", s.directory) for s in settings.intake_file_sources]
        out = []
        async with db.sessionmaker() as session:
            for client_id, channel, where in configured:
                status = "active"
                try:
                    await registry.admitted(session, client_id, channel)
                except registry.ClientRefused as refused:
                    status = f"refused: {refused.code}"
                out.append(
                    {"client_id": client_id, "channel": channel, "source": where, "status": status}
                )
        return out

    rows = _run(database_url, work)
    for row in rows:
        typer.echo(json.dumps(row, ensure_ascii=False))
    if any(row["status"] != "active" for row in rows):
        raise typer.Exit(1)


@log_app.command("verify")
def verify(database_url: str = DatabaseOption) -> None:
    """Recompute the whole hash chain; exit 1 at the first broken link."""

    async def work(db: Database, _s: GatewaySettings) -> exchange_log.ChainVerdict:
        async with db.sessionmaker() as session:
            return await exchange_log.verify_chain(session)

    verdict = _run(database_url, work)
    if verdict.ok:
        typer.echo(f"exchange log intact: {verdict.entries} entries")
        return
    typer.echo(f"exchange log BROKEN at entry {verdict.broken_at}: {verdict.reason}", err=True)
    raise typer.Exit(1)
