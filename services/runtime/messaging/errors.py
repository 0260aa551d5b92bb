"""Which failures are worth waiting out and which are not.

A consumer or relay that meets a *transient* failure (the database or the broker briefly
away, a serialization conflict, SQLite busy) waits and tries the same work again, for as
long as it takes: dead-lettering a valid event because PostgreSQL restarted would lose
it. A *permanent* failure (a contract violation, a refused event, a record the broker
will never take) is set aside at once so the work behind it flows.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator

from aiokafka.errors import KafkaError, KafkaTimeoutError, UnknownTopicOrPartitionError
from sqlalchemy import exc as sa_exc

# SQLSTATEs that say "try again": connection exceptions (class 08), serialization failure,
# deadlock, lock timeout, statement timeout/cancel, the server shutting down or not yet
# accepting connections (pg_terminate_backend gives 57P01), too many connections.
_TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03", "53300"}
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__, getattr(current, "orig", None)]


def is_transient_db_error(exc: BaseException) -> bool:
    """True when retrying the same transaction later may succeed."""
    for e in _chain(exc):
        if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
            return True
        if isinstance(e, sa_exc.DisconnectionError | sa_exc.TimeoutError):
            return True  # pool checkout timed out / connection lost
        if isinstance(e, sqlite3.OperationalError):
            return any(m in str(e).lower() for m in _SQLITE_BUSY)
        sqlstate = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
        if isinstance(sqlstate, str) and (
            sqlstate in _TRANSIENT_SQLSTATES or sqlstate.startswith("08")
        ):
            return True
        if _is_asyncpg_connection_error(e):
            return True
        if isinstance(e, sa_exc.InterfaceError):
            return True  # asyncpg: "connection is closed", "cannot perform operation"
        if isinstance(e, ConnectionError | TimeoutError | asyncio.TimeoutError):
            return True  # refused/reset sockets (server down), timeouts
        if isinstance(e, OSError) and e.errno is not None:
            return True  # e.g. "Connect call failed", host unreachable
    return False


def _is_asyncpg_connection_error(exc: BaseException) -> bool:
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return False
    return isinstance(
        exc,
        asyncpg.exceptions.PostgresConnectionError
        | asyncpg.exceptions.ConnectionDoesNotExistError
        | asyncpg.exceptions.InterfaceError
        | asyncpg.exceptions.CannotConnectNowError
        | asyncpg.exceptions.TooManyConnectionsError
        | asyncpg.exceptions.AdminShutdownError
        | asyncpg.exceptions.SerializationError
        | asyncpg.exceptions.DeadlockDetectedError,
    )


def is_transient_publish_error(exc: BaseException) -> bool:
    """True when the broker, not the record, is the problem (away, electing, slow).

    An unknown topic counts as the record's problem: the relay re-creates missing topics
    after each failure, so a topic still unknown after several rounds cannot be created.
    """
    if isinstance(exc, UnknownTopicOrPartitionError):
        return False
    if isinstance(exc, KafkaTimeoutError):
        return True  # no answer in time: the broker is away or frozen
    if isinstance(exc, KafkaError):
        return bool(exc.retriable)
    return isinstance(exc, ConnectionError | TimeoutError | asyncio.TimeoutError)
