"""前置库 exchange table: a department writes 办件 rows into its own MySQL/MariaDB table.

Row life cycle (column ``hub_status``): ``new`` (written by the department) → ``taken``
(claimed by the hub, ``hub_taken_at`` set) → ``accepted`` / ``duplicate`` / ``rejected``
with ``hub_message`` and ``hub_processed_at`` (written back by the hub), or ``failed``
when processing the row raised ``intake_max_item_attempts`` times (set aside, so that
the rows after it flow). The source is read only while its client is registered,
active and allowed the ``exchange-table`` channel.

One poll cycle, and why it survives a restart at any point without loss or repetition:

1. select rows still ``new`` or ``taken`` in id order and mark the ``new`` ones ``taken``
   (committed in the department database);
2. rows whose outcome the hub already committed (``exchange_row_results``) are not
   processed again — only written back;
3. the others are normalised; their events, their outcomes and the watermark (the highest
   row id finalised in the hub) commit in ONE gateway transaction;
4. the outcomes are written back to the department table, then forgotten in the hub.

A crash before 3 leaves rows ``taken`` without a stored outcome: they are processed
next time. A crash between 3 and 4 leaves rows ``taken`` with a stored outcome: they are
only written back. Rows are selected by status, not only by ``id > watermark``, so a row
whose insert committed late with a lower id is not skipped; the watermark records progress
(and lag) per source. On PostgreSQL an advisory lock lets one gateway replica poll a
source at a time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomysql
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.intake.canonical import Normalised
from gateway.adapters.intake.flat import FLAT_COLUMNS, row_to_raw
from gateway.adapters.intake.ingest import (
    ItemResult,
    accept_call,
    count_failure,
    failure_label,
    forget_failures,
    is_transient,
    log_call,
    normalise_all,
)
from gateway.clients.registry import ClientRefused, admitted
from gateway.settings import ExchangeTableSource
from gateway.store.tables import ExchangeRowResult, ExchangeWatermark
from services.runtime.app import Hub
from services.runtime.crypto import sm3_hex
from services.runtime.db import utcnow

log = logging.getLogger("hub.gateway.intake.exchange")

CHANNEL = "exchange-table"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

EXCHANGE_TABLE_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_id VARCHAR(64) NOT NULL,
  case_no VARCHAR(64) NULL,
  implementation_code VARCHAR(64) NULL,
  stage VARCHAR(32) NULL,
  occurred_at VARCHAR(40) NULL COMMENT 'ISO 8601 with offset, e.g. 2026-03-02T09:30:00+08:00',
  seq BIGINT NULL,
  case_type VARCHAR(8) NULL,
  applicant_type VARCHAR(16) NULL,
  applicant_id_type VARCHAR(40) NULL,
  applicant_id_no VARCHAR(64) NULL,
  applicant_name VARCHAR(200) NULL,
  handler_org_uscc VARCHAR(18) NULL,
  handler_department VARCHAR(200) NULL,
  handler_staff_no VARCHAR(64) NULL,
  result_decision VARCHAR(16) NULL,
  result_certificate_type VARCHAR(100) NULL,
  result_certificate_data TEXT NULL COMMENT 'JSON object',
  detail TEXT NULL COMMENT 'JSON object',
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  hub_status VARCHAR(16) NOT NULL DEFAULT 'new',
  hub_taken_at DATETIME(6) NULL,
  hub_processed_at DATETIME(6) NULL,
  hub_message VARCHAR(1000) NULL,
  KEY ix_hub_status (hub_status, id)
) DEFAULT CHARSET=utf8mb4
"""


def exchange_table_ddl(table: str = "hub_case_exchange") -> str:
    """The DDL a department runs once to create its exchange table (MySQL/MariaDB)."""
    return EXCHANGE_TABLE_DDL.format(table=_checked_identifier(table))


def _checked_identifier(name: str) -> str:
    if _IDENTIFIER.fullmatch(name) is None:
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


def mysql_connect_args(dsn: str) -> dict[str, Any]:
    """``mysql://user:password@host:port/database`` → aiomysql connect arguments."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("mysql", "mariadb", "mysql+aiomysql"):
        raise ValueError("exchange-table DSN must start with mysql://")
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "db": parts.path.lstrip("/"),
        "charset": "utf8mb4",
        "autocommit": False,
    }


def _message(result: ItemResult) -> str | None:
    if result.errors:
        return "; ".join(f"{e['path'] or '(row)'}: {e['message']}" for e in result.errors)[:1000]
    return result.note


class ExchangeTableAdapter:
    """Polls one department exchange table."""

    def __init__(self, hub: Hub, source: ExchangeTableSource) -> None:
        self.hub = hub
        self.source = source
        # For operators: ``active``, or why the source is not read (``refused: <code>``).
        self.status = "not polled yet"
        self.max_attempts = int(getattr(hub.settings, "intake_max_item_attempts", 3))
        self.table = _checked_identifier(source.table)
        self.key = f"exchange:{source.client_id}:{self.table}"
        self._pool: aiomysql.Pool | None = None
        self._lock_key = int.from_bytes(hashlib.sha256(self.key.encode()).digest()[:7], "big")

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            await self._pool.wait_closed()
            self._pool = None

    async def _department(self) -> aiomysql.Pool:
        if self._pool is None:
            self._pool = await aiomysql.create_pool(
                minsize=1, maxsize=2, **mysql_connect_args(self.source.dsn)
            )
        return self._pool

    async def watermark(self) -> int:
        async with self.hub.db.sessionmaker() as session:
            mark = await session.get(ExchangeWatermark, self.key)
        return mark.last_row_id if mark else 0

    async def poll_once(self) -> int:
        """One cycle; returns the number of rows finalised (0 when idle or locked out)."""
        if self.hub.db.is_sqlite:
            return await self._cycle()
        async with self.hub.db.engine.connect() as conn:
            got = await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._lock_key})
            await conn.commit()
            if not got:
                return 0
            try:
                return await self._cycle()
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._lock_key})
                await conn.commit()

    async def _orgs(self) -> frozenset[str] | None:
        """The orgs of the source's client, or ``None`` when the registry refuses it: the
        department table is then not even read (deny by default)."""
        try:
            async with self.hub.db.sessionmaker() as session:
                client = await admitted(session, self.source.client_id, CHANNEL)
        except ClientRefused as refused:
            status = f"refused: {refused.code}"
            if self.status != status:  # once per change, not every poll
                log.error(
                    "exchange-table source %s is not read: %s (%s)",
                    self.key,
                    refused.code,
                    refused,
                )
            self.status = status
            return None
        self.status = "active"
        return frozenset(client.orgs)

    async def _cycle(self) -> int:
        orgs = await self._orgs()
        if orgs is None:
            return 0
        rows = await self._claim()
        if not rows:
            return 0
        ids = [row["id"] for row in rows]
        async with self.hub.db.sessionmaker() as session:
            done = {
                r.row_id: r
                for r in (
                    await session.execute(
                        select(ExchangeRowResult).where(
                            ExchangeRowResult.source == self.key,
                            ExchangeRowResult.row_id.in_(ids),
                        )
                    )
                ).scalars()
            }
        fresh = [row for row in rows if row["id"] not in done]
        outcomes: dict[int, tuple[str, str | None]] = {
            row_id: (r.status, r.message) for row_id, r in done.items()
        }
        if fresh:
            outcomes.update(await self._ingest_isolated(fresh, orgs))
        await self._write_back(outcomes)
        async with self.hub.db.transaction() as session:
            await session.execute(
                delete(ExchangeRowResult).where(
                    ExchangeRowResult.source == self.key,
                    ExchangeRowResult.row_id.in_(list(outcomes)),
                )
            )
            await forget_failures(
                session, source=self.key, items=[f"row:{row_id}" for row_id in outcomes]
            )
        return len(outcomes)

    async def _ingest_isolated(
        self, rows: list[dict[str, Any]], orgs: frozenset[str]
    ) -> dict[int, tuple[str, str | None]]:
        """The batch in one transaction; if it fails for a reason of its own (not an
        outage), row by row, so that one poisoned row is retried alone and set aside as
        ``failed`` after ``max_attempts`` while the others flow."""
        if len(rows) > 1:
            try:
                return await self._ingest(rows, orgs)
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.warning(
                    "batch of %s failed (%s); retrying its rows one by one",
                    self.key,
                    failure_label(exc),
                )
        outcomes: dict[int, tuple[str, str | None]] = {}
        for row in rows:
            try:
                outcomes.update(await self._ingest([row], orgs))
            except Exception as exc:
                if is_transient(exc):
                    raise
                attempts = await count_failure(
                    self.hub, source=self.key, item=f"row:{row['id']}", exc=exc
                )
                log.error(
                    "row %s of %s failed (%s), attempt %d of %d",
                    row["id"],
                    self.key,
                    failure_label(exc),
                    attempts,
                    self.max_attempts,
                )
                if attempts >= self.max_attempts:
                    outcomes[row["id"]] = await self._set_aside(row["id"], exc, attempts)
        return outcomes

    async def _set_aside(
        self, row_id: int, exc: BaseException, attempts: int
    ) -> tuple[str, str | None]:
        message = (
            f"set aside after {attempts} failed attempts ({failure_label(exc)}); "
            "correct the row and insert it again as new"
        )
        await log_call(
            self.hub,
            client_id=self.source.client_id,
            channel=CHANNEL,
            result="failed",
            body_digest=sm3_hex(f"{self.key}:{row_id}".encode()),
            detail=f"{self.table} row {row_id} set aside: {failure_label(exc)}",
        )
        log.error("row %s of %s set aside as failed", row_id, self.key)
        return ("failed", message)

    async def _claim(self) -> list[dict[str, Any]]:
        pool = await self._department()
        columns = ", ".join(("id", *FLAT_COLUMNS))
        async with pool.acquire() as conn, conn.cursor(aiomysql.DictCursor) as cur:
            await cur.execute(
                f"SELECT {columns} FROM {self.table} "
                "WHERE hub_status IN ('new', 'taken') ORDER BY id LIMIT %s",
                (self.source.batch_size,),
            )
            rows = list(await cur.fetchall())
            new_ids = [row["id"] for row in rows]
            if new_ids:
                marks = ", ".join(["%s"] * len(new_ids))
                await cur.execute(
                    f"UPDATE {self.table} SET hub_status = 'taken', "
                    f"hub_taken_at = NOW(6) WHERE hub_status = 'new' AND id IN ({marks})",
                    new_ids,
                )
            await conn.commit()
        return rows

    async def _ingest(
        self, rows: list[dict[str, Any]], orgs: frozenset[str]
    ) -> dict[int, tuple[str, str | None]]:
        items: list[Normalised] = normalise_all(
            [row_to_raw(row) for row in rows], source_system=self.source.client_id, channel=CHANNEL
        )
        ids = [row["id"] for row in rows]
        digest = sm3_hex(
            json.dumps(rows, default=str, ensure_ascii=False, sort_keys=True).encode("utf-8")
        )
        outcomes: dict[int, tuple[str, str | None]] = {}

        async def remember(session: AsyncSession, results: list[ItemResult]) -> None:
            outcomes.clear()
            for row_id, result in zip(ids, results, strict=True):
                outcomes[row_id] = (result.status, _message(result))
                session.add(
                    ExchangeRowResult(
                        source=self.key,
                        row_id=row_id,
                        status=result.status,
                        message=_message(result),
                    )
                )
            await self._advance(session, max(ids))

        await accept_call(
            self.hub,
            client_id=self.source.client_id,
            orgs=orgs,
            channel=CHANNEL,
            items=items,
            body_digest=digest,
            extra=remember,
            detail=f"{self.table} rows {min(ids)}..{max(ids)}",
        )
        return outcomes

    async def _advance(self, session: AsyncSession, row_id: int) -> None:
        mark = await session.get(ExchangeWatermark, self.key)
        if mark is None:
            session.add(ExchangeWatermark(source=self.key, last_row_id=row_id))
        elif row_id > mark.last_row_id:
            mark.last_row_id = row_id
            mark.updated_at = utcnow()

    async def _write_back(self, outcomes: dict[int, tuple[str, str | None]]) -> None:
        if not outcomes:
            return
        pool = await self._department()
        async with pool.acquire() as conn, conn.cursor() as cur:
            await cur.executemany(
                f"UPDATE {self.table} SET hub_status = %s, hub_message = %s, "
                "hub_processed_at = NOW(6) WHERE id = %s AND hub_status = 'taken'",
                [(status, message, row_id) for row_id, (status, message) in outcomes.items()],
            )
            await conn.commit()
