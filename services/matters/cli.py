"""``hub matters …``: Excel import and export of the 实施清单, provincial sync."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.matters.calendar import load_schedules, loaded_years
from services.matters.catalog import Actor
from services.matters.excel import WorkbookError, import_workbook, write_workbook
from services.matters.exporting import items_for_export
from services.matters.settings import MattersSettings
from services.runtime.app import Hub
from services.runtime.calendar import ScheduleError, parse_schedules, read_schedule_file
from services.runtime.db import Database
from services.runtime.messaging import Messaging

app = typer.Typer(help="事项目录: Excel import/export of the 实施清单 and provincial sync.")
console = Console(stderr=True)
IMPORT_ACTOR = Actor(subject="excel-import", kind="import")


def _hub(database_url: str | None) -> Hub:
    settings = MattersSettings(kafka_enabled=False)
    if database_url:
        settings = MattersSettings(database_url=database_url, kafka_enabled=False)
    db = Database(settings.resolved_database_url())
    # Events go to the outbox; the running service's relay sends them.
    return Hub(settings=settings, db=db, messaging=Messaging(settings, db, topics=["hub.matters"]))


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="validate only, write nothing")
    ] = False,
    publish: Annotated[
        bool, typer.Option("--publish/--draft", help="publish each imported version")
    ] = False,
    database_url: Annotated[str | None, typer.Option(envvar="HUB_DATABASE_URL")] = None,
    report: Annotated[Path | None, typer.Option(help="write the report as JSON here")] = None,
) -> None:
    """Import a 实施清单 workbook: one row per item, materials on the second sheet."""

    async def run() -> dict[str, object]:
        hub = _hub(database_url)
        try:
            with Progress(
                TextColumn("[bold]导入"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as bar:
                task = bar.add_task("rows", total=None)

                def step(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                result = await import_workbook(
                    hub, IMPORT_ACTOR, file, dry_run=dry_run, publish=publish, progress=step
                )
            return result.to_dict()
        finally:
            await hub.db.dispose()

    try:
        result = asyncio.run(run())
    except WorkbookError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2) from exc
    _print_report(result)
    if report is not None:
        report.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    if result["errors"]:
        raise typer.Exit(1)


def _print_report(result: dict[str, object]) -> None:
    summary = {k: v for k, v in result.items() if k != "errors"}
    console.print(" ".join(f"{k}={v}" for k, v in summary.items()))
    errors = result["errors"]
    assert isinstance(errors, list)
    if errors:
        table = Table("sheet", "row", "field", "message", title="validation report")
        for e in errors[:200]:
            table.add_row(e["sheet"], str(e["row"]), e["field"], e["message"])
        console.print(table)


@app.command("export")
def export(
    file: Annotated[Path, typer.Argument(dir_okay=False)],
    published_only: Annotated[bool, typer.Option("--published-only")] = False,
    database_url: Annotated[str | None, typer.Option(envvar="HUB_DATABASE_URL")] = None,
) -> None:
    """Export every item (its newest version, or the published one) to a workbook."""

    async def run() -> int:
        hub = _hub(database_url)
        try:
            items = await items_for_export(hub.db, published_only=published_only)
        finally:
            await hub.db.dispose()
        return write_workbook(items, file)

    count = asyncio.run(run())
    console.print(f"exported {count} items to {file}")


# -- hub calendar … (the working-day calendar the matters service owns) ------------------------

calendar_app = typer.Typer(
    help="工作日历: official holiday schedules (放假安排, 调休) for due dates.",
    no_args_is_help=True,
)


@calendar_app.command("load")
def calendar_load(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    database_url: Annotated[str | None, typer.Option(envvar="HUB_DATABASE_URL")] = None,
    loaded_by: Annotated[str, typer.Option(help="recorded with each year")] = "hub-cli",
) -> None:
    """Load the official schedule of one or more years from a YAML file
    (``2027: {holidays: [...], workdays: [...]}``): stored by matters, published as
    ``hub.calendar.year_loaded``; cases recomputes its provisional due dates."""
    try:
        schedules = parse_schedules(read_schedule_file(file))
    except ScheduleError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2) from exc
    if not schedules:
        console.print("[red]the file names no year")
        raise typer.Exit(2)

    async def run() -> list[int]:
        hub = _hub(database_url)
        try:
            with Progress(
                TextColumn("[bold]日历"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                console=console,
            ) as bar:
                task = bar.add_task("", total=len(schedules))

                def step(done: int, total: int, year: int) -> None:
                    bar.update(task, completed=done, description=f"{year} loaded")

                return await load_schedules(hub, schedules, loaded_by=loaded_by, progress=step)
        finally:
            await hub.db.dispose()

    years = asyncio.run(run())
    for s in schedules:
        console.print(f"{s.year}: {len(s.holidays)} holidays, {len(s.workdays)} make-up workdays")
    console.print(f"loaded {', '.join(map(str, years))}")


@calendar_app.command("years")
def calendar_years(
    database_url: Annotated[str | None, typer.Option(envvar="HUB_DATABASE_URL")] = None,
) -> None:
    """The years with a loaded official schedule."""

    async def run() -> list[tuple[int, int, int, str, str]]:
        hub = _hub(database_url)
        try:
            return await loaded_years(hub.db)
        finally:
            await hub.db.dispose()

    table = Table("year", "holidays", "workdays", "loaded_at", "loaded_by")
    for row in asyncio.run(run()):
        table.add_row(*map(str, row))
    Console().print(table)
