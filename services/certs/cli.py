"""``hub certs …`` commands (mounted in hub/cli.py SUB_CLIS)."""

from __future__ import annotations

import asyncio
from pathlib import Path

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


@app.command("import")
def import_(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help=".csv or .xlsx"),
    dry_run: bool = typer.Option(False, "--dry-run", help="validate and report; issue nothing"),
    report: Path | None = typer.Option(None, help="write the full report as JSON here"),
) -> None:
    """Import 存量证照: columns type_code, issuer_uscc, issued_on (optional) and the 照面
    fields (key or Chinese title). Valid rows are signed and issued; the rest are reported.
    Exit code 1 when a row was rejected."""
    import json

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
    from rich.table import Table

    from services.certs.service import importing

    console = Console(stderr=True)
    total = sum(1 for _ in importing.read_rows(file))

    async def run() -> importing.Report:
        settings = CertsSettings()
        db = Database(settings.resolved_database_url())
        messaging = Messaging(settings, db)
        try:
            ctx = CertsContext(settings, messaging.publish, pii_cipher(settings))
            columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
            with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
                task = bar.add_task("validating" if dry_run else "importing", total=total)
                return await importing.run(
                    ctx,
                    db,
                    file,
                    dry_run=dry_run,
                    actor=f"import:{file.name}",
                    advance=lambda: bar.advance(task),
                )
        finally:
            await db.dispose()

    result = asyncio.run(run())
    summary = result.as_json()
    if report is not None:
        report.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    if summary["rejected"]:
        table = Table("line", "errors", title="rejected rows")
        for item in summary["rejected"][:50]:
            table.add_row(str(item["line"]), "\n".join(item["errors"]))
        console.print(table)
    counts = {k: summary[k] for k in ("rows", "valid", "issued", "exists", "invalid")}
    typer.echo(json.dumps(counts))
    if summary["invalid"]:
        raise typer.Exit(1)
