"""Every process's migrations give the messaging tables exactly the runtime's shape,
on PostgreSQL and SQLite, and the resilience step downgrades and upgrades again."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Table, create_engine

from hub.registry import ALL_PROCESSES
from services.runtime.messaging.tables import messaging_metadata
from services.runtime.migrate import alembic_config, upgrade
from tests.support.postgres import DatabaseFactory

MESSAGING = set(messaging_metadata.tables)


def _drift(sync_url: str) -> list[object]:
    engine = create_engine(sync_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            diffs = compare_metadata(ctx, messaging_metadata)
    finally:
        engine.dispose()
    # Only the messaging tables: the service's own tables are not in this metadata.
    return [d for d in diffs if _table_of(d) in MESSAGING]


def _table_of(diff: object) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item:  # type: ignore[attr-defined]
        if isinstance(part, Table):
            return part.name
        if hasattr(part, "table") and isinstance(part.table, Table):
            return part.table.name
        if isinstance(part, str) and part in MESSAGING:
            return part
    return None


@pytest.mark.parametrize("spec", ALL_PROCESSES, ids=lambda s: s.name)
def test_messaging_tables_match_on_postgres_and_sqlite(
    spec: object, pg: DatabaseFactory, tmp_path: Path
) -> None:
    name = spec.name  # type: ignore[attr-defined]
    pg_url = pg.create_sync(f"mig_{name}")
    sqlite_file = tmp_path / f"{name}.db"
    # The drift check needs a sync driver: SQLite's is built in (PostgreSQL has none here,
    # so there the round trip up/down/up is what is checked).
    for async_url, sync_url in (
        (pg_url, None),
        (f"sqlite+aiosqlite:///{sqlite_file}", f"sqlite:///{sqlite_file}"),
    ):
        migrations = spec.migrations_dir  # type: ignore[attr-defined]
        upgrade(migrations, async_url)
        cfg = alembic_config(migrations, async_url)
        command.downgrade(cfg, "-1")
        upgrade(migrations, async_url)
        if sync_url is not None:
            assert _drift(sync_url) == []
