"""Async SQLAlchemy engine and sessions for one service's own database.

PostgreSQL in production and tests, SQLite files for the embedded default: both must
work, so nothing here is dialect specific beyond connection tuning.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData, TypeDecorator, event, text
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """A metadata with stable constraint names, so migrations agree on both dialects."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def make_base() -> type[DeclarativeBase]:
    """A fresh declarative base for one service (each service owns its own tables)."""

    class Base(DeclarativeBase):
        metadata = new_metadata()

    return Base


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored in UTC and always come back timezone-aware.

    SQLite has no timezone type, so naive values read back are taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; the hub stores aware UTC times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Database:
    """Engine + session factory of one service."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, object] = {"echo": echo, "pool_pre_ping": not self.is_sqlite}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = pool_size
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        # A Session subclass of our own, so session events (the outbox wake-up) attach to
        # this database only.
        self.session_class: type[Session] = type("HubSession", (Session,), {})
        self.sessionmaker = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=self.session_class
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one write transaction: committed on success, rolled back on error.

        On SQLite it starts with ``BEGIN IMMEDIATE``: the write lock is taken (waiting up
        to the busy timeout) before the first read. A deferred transaction that reads and
        then writes would have to upgrade its lock while another writer holds it, and
        SQLite fails that upgrade at once with "database is locked" instead of waiting.
        Read-only sessions (``sessionmaker()``) stay deferred and never block writers.
        """
        async with self.sessionmaker() as session, session.begin():
            if self.is_sqlite:
                await session.connection(execution_options={_BEGIN_OPTION: "IMMEDIATE"})
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


_BEGIN_OPTION = "hub_sqlite_begin"


def _sqlite_begin(conn: Connection) -> None:
    # With the driver's own transaction handling off (see _sqlite_pragmas), SQLAlchemy
    # says when a transaction starts; that is what makes SAVEPOINTs nest correctly.
    mode = conn.get_execution_options().get(_BEGIN_OPTION, "")
    conn.exec_driver_sql(f"BEGIN {mode}" if mode == "IMMEDIATE" else "BEGIN")


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    # WAL lets readers work beside the single writer; busy_timeout waits instead of
    # failing when the relay and a request write at the same moment.
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # pysqlite's legacy implicit BEGIN breaks SAVEPOINT semantics; SQLAlchemy's
    # documented recipe: no driver-managed transactions, BEGIN emitted on "begin".
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
