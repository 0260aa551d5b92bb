"""``hub``: the operators' command line."""

from __future__ import annotations

import sys

import typer

from hub.registry import ALL_PROCESSES, BY_NAME

app = typer.Typer(help="一网通办 integration hub", no_args_is_help=True)
openapi_app = typer.Typer(help="OpenAPI documents in contracts/openapi")
contracts_app = typer.Typer(help="Event contracts (AsyncAPI document)")
app.add_typer(openapi_app, name="openapi")
app.add_typer(contracts_app, name="contracts")
systems_app = typer.Typer(help="External systems (county / department) pushing 办件")
app.add_typer(systems_app, name="systems")


@app.command()
def run() -> None:
    """Start the whole hub on the embedded default (what `make run` calls)."""
    from hub.runner import main

    raise typer.Exit(main())


@app.command()
def migrate(
    service: str = typer.Option("", help="one process; all when empty"),
    database_url: str = typer.Option("", envvar="HUB_DATABASE_URL"),
) -> None:
    """Apply migrations (to HUB_DATABASE_URL, or each process's SQLite file)."""
    from hub.runner import sqlite_url
    from services.runtime.migrate import upgrade

    specs = [BY_NAME[service]] if service else ALL_PROCESSES
    if database_url and len(specs) != 1:
        typer.echo("--database-url needs --service: each service owns its own database")
        raise typer.Exit(2)
    for spec in specs:
        upgrade(spec.migrations_dir, database_url or sqlite_url(spec.name))
        typer.echo(f"{spec.name}: migrated")


@openapi_app.command("export")
def openapi_export() -> None:
    from hub.openapi import export

    for path in export():
        typer.echo(f"wrote {path}")


@openapi_app.command("check")
def openapi_check() -> None:
    from hub.openapi import stale

    names = stale()
    if names:
        typer.echo(f"stale OpenAPI documents: {', '.join(names)}; run `hub openapi export`")
        raise typer.Exit(1)
    typer.echo("OpenAPI documents are current")


@contracts_app.command("asyncapi")
def contracts_asyncapi(check: bool = typer.Option(False, help="only check it is current")) -> None:
    """Write (or check) contracts/asyncapi.yaml from the JSON Schemas."""
    from hub.asyncapi import is_current, write

    if check:
        if not is_current():
            typer.echo("contracts/asyncapi.yaml is stale; run `hub contracts asyncapi`")
            raise typer.Exit(1)
        typer.echo("contracts/asyncapi.yaml is current")
        return
    typer.echo(f"wrote {write()}")


@systems_app.command("onboard")
def systems_onboard(
    name: str = typer.Option(..., help="system name, e.g. 浈江区行政审批系统"),
    org: list[str] = typer.Option(..., help="统一社会信用代码 of an org it reports for; repeat"),
    channel: list[str] = typer.Option(
        [], help="rest, exchange-table, file (soap with --legacy); default rest, or soap"
    ),
    legacy: bool = typer.Option(False, help="app key + secret for signed SOAP, no OAuth"),
    client_id: str = typer.Option("", help="client id (generated when empty)"),
    scope: list[str] = typer.Option(
        ["cases:push"], help="OAuth scope of the client, repeat (certs:use for 授权用证)"
    ),
    identity_database_url: str = typer.Option("", envvar="HUB_IDENTITY_DATABASE_URL"),
    gateway_database_url: str = typer.Option("", envvar="HUB_GATEWAY_DATABASE_URL"),
) -> None:
    """Create the system's credentials (OAuth client credentials with scope cases:push at
    identity, or with --legacy an app key + secret) and register it at the gateway with its
    orgs and channels. Prints the credentials as JSON — once: they cannot be read back."""
    import asyncio
    import json

    from hub.onboarding import OnboardingError, onboard
    from hub.runner import sqlite_url
    from services.runtime.identifiers import InvalidIdentifier
    from services.runtime.problems import Problem

    try:
        creds = asyncio.run(
            onboard(
                identity_url=identity_database_url or sqlite_url("identity"),
                gateway_url=gateway_database_url or sqlite_url("gateway"),
                name=name,
                orgs=org,
                channels=channel or (["soap"] if legacy else ["rest"]),
                legacy=legacy,
                client_id=client_id or None,
                scopes=scope,
            )
        )
    except (OnboardingError, InvalidIdentifier) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except Problem as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(creds, ensure_ascii=False))


# Operator commands each service provides (`hub <name> …`); mounted here, the
# composition root, because services never import each other or this package.
SUB_CLIS = {
    "identity": "services.identity.cli:app",
    # The spelling for operators: `hub clients create …`, `hub users create …`.
    "clients": "services.identity.cli:clients_app",
    "users": "services.identity.cli:users_app",
    "matters": "services.matters.cli:app",
    # 工作日历: matters owns the official holiday schedules (`hub calendar load FILE`).
    "calendar": "services.matters.cli:calendar_app",
    "cases": "services.cases.cli:app",
    "gateway": "gateway.cli:app",
    "certs": "services.certs.cli:app",
}


def mount_sub_clis() -> None:
    import importlib

    for name, target in SUB_CLIS.items():
        module, attr = target.split(":")
        app.add_typer(getattr(importlib.import_module(module), attr), name=name)


def main() -> None:
    mount_sub_clis()
    app(prog_name="hub")


if __name__ == "__main__":
    sys.exit(main())
