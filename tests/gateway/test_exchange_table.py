"""前置库 exchange table on MariaDB: claim, write back, watermark across restarts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiomysql
import pytest

from gateway.adapters.intake.exchange_table import ExchangeTableAdapter, exchange_table_ddl
from gateway.settings import ExchangeTableSource
from tests.gateway.conftest import MARIADB, Gateway, mysql_dsn, register
from tests.peers.county_system import COUNTIES, CountySystem, insert_exchange_rows, malformed


class Killed(BaseException):
    """The process dying (not an error the adapter handles: it is never caught)."""


class Department:
    """The department side: its own MariaDB database holding the exchange table."""

    def __init__(self, conn: aiomysql.Connection, database: str, table: str) -> None:
        self.conn = conn
        self.database = database
        self.table = table
        self.client_id = f"dept-{table[-8:]}"

    def source(self, batch_size: int = 500) -> ExchangeTableSource:
        return ExchangeTableSource(
            client_id=self.client_id,
            dsn=mysql_dsn(self.database),
            table=self.table,
            batch_size=batch_size,
        )

    async def rows(self) -> list[dict[str, Any]]:
        await self.conn.commit()  # a fresh snapshot
        async with self.conn.cursor(aiomysql.DictCursor) as cur:
            await cur.execute(
                f"SELECT id, event_id, hub_status, hub_message, hub_taken_at, hub_processed_at "
                f"FROM {self.table} ORDER BY id"
            )
            return list(await cur.fetchall())


@pytest.fixture
async def department(mariadb_database: str, gateway: Gateway) -> AsyncIterator[Department]:
    conn = await aiomysql.connect(**MARIADB, db=mariadb_database, charset="utf8mb4")
    table = f"exchange_{uuid.uuid4().hex[:8]}"
    async with conn.cursor() as cur:
        await cur.execute(exchange_table_ddl(table))
    await conn.commit()
    dept = Department(conn, mariadb_database, table)
    await register(gateway.hub, dept.client_id, *COUNTIES, channels=("exchange-table",))
    yield dept
    conn.close()


async def _published(gateway: Gateway, client_id: str) -> list[str]:
    rows = await gateway.outbox_rows()
    return [r["payload"]["event_id"] for r in rows if r["payload"]["source_system"] == client_id]


async def test_rows_are_published_and_outcomes_written_back(
    gateway: Gateway, department: Department
) -> None:
    system = CountySystem(COUNTIES[0], seed=31)
    events = system.stream(3)
    bad_path, bad = malformed(system.case()[0])[4]
    await insert_exchange_rows(department.conn, department.table, [*events, bad, events[0]])
    adapter = ExchangeTableAdapter(gateway.hub, department.source())
    try:
        assert await adapter.poll_once() == len(events) + 2
        assert await adapter.poll_once() == 0  # nothing left: no re-reading
        rows = await department.rows()
        assert [r["hub_status"] for r in rows] == ["accepted"] * len(events) + [
            "rejected",
            "duplicate",
        ]
        assert rows[len(events)]["hub_message"].startswith(f"{bad_path}:")
        assert all(r["hub_taken_at"] and r["hub_processed_at"] for r in rows)
        assert sorted(await _published(gateway, department.client_id)) == sorted(
            e["event_id"] for e in events
        )
        assert await adapter.watermark() == rows[-1]["id"]
        payload = (await gateway.outbox_rows(subject=events[-1]["case_no"]))[-1]["payload"]
        assert payload["channel"] == "exchange-table"
        assert payload["result"] == events[-1].get("result")
    finally:
        await adapter.close()


async def test_restart_between_commit_and_write_back_neither_loses_nor_repeats(
    gateway: Gateway, department: Department, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = CountySystem(COUNTIES[1], seed=32).stream(4)
    await insert_exchange_rows(department.conn, department.table, events)
    crashing = ExchangeTableAdapter(gateway.hub, department.source(batch_size=5))

    async def die(*_a: object, **_k: object) -> None:
        raise ConnectionError("adapter killed after its gateway commit")

    monkeypatch.setattr(crashing, "_write_back", die)
    with pytest.raises(ConnectionError):
        await crashing.poll_once()
    await crashing.close()
    rows = await department.rows()
    assert [r["hub_status"] for r in rows[:5]] == ["taken"] * 5
    assert len(await _published(gateway, department.client_id)) == 5

    restarted = ExchangeTableAdapter(gateway.hub, department.source(batch_size=5))
    try:
        while await restarted.poll_once():
            pass
        rows = await department.rows()
        assert {r["hub_status"] for r in rows} == {"accepted"}
        published = await _published(gateway, department.client_id)
        assert sorted(published) == sorted(e["event_id"] for e in events)  # once each
        assert await restarted.watermark() == rows[-1]["id"]
    finally:
        await restarted.close()


async def test_restart_after_claim_before_commit_processes_the_taken_rows(
    gateway: Gateway, department: Department, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = CountySystem(COUNTIES[2], seed=33).stream(2)
    await insert_exchange_rows(department.conn, department.table, events)
    crashing = ExchangeTableAdapter(gateway.hub, department.source())

    async def die(*_a: object, **_k: object) -> dict[int, tuple[str, str | None]]:
        raise Killed("adapter killed before its gateway commit")

    monkeypatch.setattr(crashing, "_ingest", die)
    with pytest.raises(Killed):
        await crashing.poll_once()
    await crashing.close()
    assert {r["hub_status"] for r in await department.rows()} == {"taken"}
    assert await _published(gateway, department.client_id) == []
    assert await crashing.watermark() == 0

    restarted = ExchangeTableAdapter(gateway.hub, department.source())
    try:
        assert await restarted.poll_once() == len(events)
        assert {r["hub_status"] for r in await department.rows()} == {"accepted"}
        assert sorted(await _published(gateway, department.client_id)) == sorted(
            e["event_id"] for e in events
        )
    finally:
        await restarted.close()


async def test_batches_advance_the_watermark_and_a_late_lower_id_is_not_skipped(
    gateway: Gateway, department: Department
) -> None:
    system = CountySystem(COUNTIES[3], seed=34)
    events = system.stream(3)
    async with department.conn.cursor() as cur:
        await cur.execute(f"ALTER TABLE {department.table} AUTO_INCREMENT = 100")
    await insert_exchange_rows(department.conn, department.table, events)
    adapter = ExchangeTableAdapter(gateway.hub, department.source(batch_size=2))
    try:
        marks = []
        while await adapter.poll_once():
            marks.append(await adapter.watermark())
        assert marks == sorted(marks) and marks[-1] == 99 + len(events)
        # A row whose insert committed late, with an id below the watermark.
        late = system.case()[:1]
        await insert_exchange_rows(department.conn, department.table, late)
        async with department.conn.cursor() as cur:
            await cur.execute(
                f"UPDATE {department.table} SET id = 5 WHERE event_id = %s",
                (late[0]["event_id"],),
            )
        await department.conn.commit()
        assert await adapter.poll_once() == 1
        assert await adapter.watermark() == 99 + len(events)
        assert late[0]["event_id"] in await _published(gateway, department.client_id)
    finally:
        await adapter.close()
