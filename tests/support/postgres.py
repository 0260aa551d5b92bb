"""Real PostgreSQL for the suite: one database per service per test run, dropped after.

``HUB_TEST_PG_URL`` names the server (default: the local trust-auth instance). An
unreachable server fails the run: there is no silent fallback to another database.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    return os.environ.get("HUB_TEST_PG_URL", DEFAULT_ADMIN_URL)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def check_reachable() -> str | None:
    try:
        conn = await asyncpg.connect(admin_url(), timeout=5)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


class DatabaseFactory:
    """Creates databases named ``hubtest_<run>_<name>`` and drops them all at the end."""

    def __init__(self) -> None:
        self.run_id = uuid.uuid4().hex[:8]
        self.created: list[str] = []

    async def create(self, name: str) -> str:
        """Create an empty database; returns its SQLAlchemy asyncpg URL."""
        db_name = f"hubtest_{self.run_id}_{name}_{len(self.created)}".lower()
        conn = await asyncpg.connect(admin_url())
        try:
            await conn.execute(f'CREATE DATABASE "{db_name}"')
        finally:
            await conn.close()
        self.created.append(db_name)
        return _with_database(admin_url(), db_name).replace(
            "postgresql://", "postgresql+asyncpg://", 1
        )

    async def drop_all(self) -> None:
        conn = await asyncpg.connect(admin_url())
        try:
            for name in self.created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
        self.created.clear()

    def create_sync(self, name: str) -> str:
        return asyncio.run(self.create(name))
