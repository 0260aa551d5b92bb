"""Issue 8, hole 8: one poisoned request, row or file never answers 500 and never stalls
its source. Deep JSON/XML is a 4xx (never a RecursionError), a refused SOAP body does not
spend the nonce, and a row or file that keeps failing is set aside after N tries."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomysql
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from gateway.adapters.intake.exchange_table import ExchangeTableAdapter, exchange_table_ddl
from gateway.adapters.intake.file_drop import FileDropAdapter
from gateway.clients.registry import create_legacy_client
from gateway.settings import ExchangeTableSource, FileDropSource
from gateway.store.tables import ExchangeLogEntry, IntakeFailure
from tests.gateway.conftest import MARIADB, Gateway, mysql_dsn, register
from tests.peers.county_system import (
    COUNTIES,
    REST_PATH,
    CountySystem,
    SoapPusher,
    csv_bytes,
    drop_file,
    insert_exchange_rows,
    parse_soap_results,
    soap_envelope,
    soap_fault,
    xml_file_bytes,
)
from tests.support.tokens import TestIssuer, bearer

COUNTY = COUNTIES[2]


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": "x"}
    for _ in range(depth):
        value = {"k": value}
    return value


def _deep_json_text(depth: int) -> bytes:
    return b'{"events": [{"detail": ' + b'{"k": ' * depth + b"1" + b"}" * depth + b"}]}"


def _deep_xml_event(depth: int) -> bytes:
    return b"<hub:detail>" + b"<a>" * depth + b"x" + b"</a>" * depth + b"</hub:detail>"


async def test_deep_or_non_json_bodies_are_4xx_never_500(
    gateway: Gateway, issuer: TestIssuer
) -> None:
    client_id = await register(gateway.hub, f"county-{uuid.uuid4().hex[:8]}", COUNTY)
    headers = {**bearer(issuer.client(client_id, "cases:push")), "Content-Type": "application/json"}
    before = await gateway.outbox_count()
    for depth in (40, 900, 200_000):
        r = await gateway.client.post(REST_PATH, content=_deep_json_text(depth), headers=headers)
        assert r.status_code == 400, (depth, r.status_code, r.text[:200])
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"].endswith("/too-deep")
    event = CountySystem(COUNTY, seed=901).case()[0]
    nan = json.dumps({"events": [{**event, "detail": {"x": float("nan")}}]}).encode()
    r = await gateway.client.post(REST_PATH, content=nan, headers=headers)
    assert r.status_code == 400 and r.json()["type"].endswith("/malformed-json")
    # An event within the limit still goes through.
    ok = {"events": [{**event, "detail": _nested(20)}]}
    r = await gateway.client.post(REST_PATH, json=ok, headers=headers)
    assert r.status_code == 202 and r.json()["accepted"] == 1
    assert await gateway.outbox_count() == before + 1


async def test_deep_soap_body_is_a_4xx_fault_and_does_not_spend_the_nonce(
    gateway: Gateway,
) -> None:
    creds = await create_legacy_client(
        gateway.hub.db, gateway.hub.settings, name="曲江区审批系统", orgs=[COUNTY.bureau_uscc]
    )
    pusher = SoapPusher(gateway.client, creds.app_key, creds.secret)
    events = CountySystem(COUNTY, seed=902).case()[:1]
    good = soap_envelope(events)
    for depth in (60, 100_000):
        deep = good.replace(b"</hub:event>", _deep_xml_event(depth) + b"</hub:event>", 1)
        assert deep != good
        nonce = uuid.uuid4().hex
        refused = await pusher.send(deep, pusher.headers(deep, nonce=nonce))
        assert refused.status_code == 400, refused.text[:300]
        assert soap_fault(refused.content)["code"] == "too-deep"
    # The nonce of the refused call was not spent: the corrected call may reuse it.
    answer = await pusher.send(good, pusher.headers(good, nonce=nonce))
    assert answer.status_code == 200, answer.text
    assert [r["status"] for r in parse_soap_results(answer.content)] == ["accepted"]
    replay = await pusher.send(good, pusher.headers(good, nonce=nonce))
    assert replay.status_code == 409


@pytest.fixture
async def department(mariadb_database: str) -> AsyncIterator[tuple[aiomysql.Connection, str]]:
    conn = await aiomysql.connect(**MARIADB, db=mariadb_database, charset="utf8mb4")
    table = f"exchange_{uuid.uuid4().hex[:8]}"
    async with conn.cursor() as cur:
        await cur.execute(exchange_table_ddl(table))
    await conn.commit()
    yield conn, table
    conn.close()


async def _rows(conn: aiomysql.Connection, table: str) -> list[tuple[str, str, str | None]]:
    await conn.commit()
    async with conn.cursor() as cur:
        await cur.execute(f"SELECT event_id, hub_status, hub_message FROM {table} ORDER BY id")
        return [tuple(r) for r in await cur.fetchall()]  # type: ignore[misc]


async def test_a_poisoned_exchange_row_is_set_aside_after_n_tries_while_the_rest_flow(
    gateway: Gateway, department: tuple[aiomysql.Connection, str], mariadb_database: str
) -> None:
    conn, table = department
    client_id = await register(
        gateway.hub, f"dept-{table[-8:]}", COUNTY, channels=("exchange-table",)
    )
    adapter = ExchangeTableAdapter(
        gateway.hub,
        ExchangeTableSource(client_id=client_id, dsn=mysql_dsn(mariadb_database), table=table),
    )
    adapter.max_attempts = 2
    system = CountySystem(COUNTY, seed=903)
    first, later = system.case()[:2], system.case()[:2]
    # NaN passes JSON text parsing but no database stores it: the row fails at commit.
    poisoned = {**system.case()[0], "detail": {"x": float("nan")}}
    deep = system.case()[0]
    await insert_exchange_rows(conn, table, [*first, poisoned, deep])
    async with conn.cursor() as cur:  # JSON text nested so deep that json.loads recurses
        text = '{"k": ' * 5000 + "1" + "}" * 5000
        await cur.execute(
            f"UPDATE {table} SET detail = %s WHERE event_id = %s", (text, deep["event_id"])
        )
    await conn.commit()
    try:
        assert await adapter.poll_once() == 3  # poisoned row retried alone, not finalised
        rows = await _rows(conn, table)
        assert [r[1] for r in rows] == ["accepted", "accepted", "taken", "rejected"]
        assert "nests deeper" in (rows[3][2] or "")
        async with gateway.hub.db.sessionmaker() as session:
            failure = await session.get(IntakeFailure, (adapter.key, "row:3"))
        assert failure is not None and failure.attempts == 1

        await insert_exchange_rows(conn, table, later)
        assert await adapter.poll_once() == 3  # the poisoned row set aside, the new rows in
        rows = await _rows(conn, table)
        assert [r[1] for r in rows] == ["accepted", "accepted", "failed", "rejected"] + [
            "accepted"
        ] * 2
        assert "set aside after 2 failed attempts" in (rows[2][2] or "")
        assert await adapter.poll_once() == 0  # nothing left: the source is not stalled
        async with gateway.hub.db.sessionmaker() as session:
            assert await session.get(IntakeFailure, (adapter.key, "row:3")) is None
            logged = (
                await session.execute(
                    select(ExchangeLogEntry.result, ExchangeLogEntry.detail).where(
                        ExchangeLogEntry.client_id == client_id
                    )
                )
            ).all()
        assert any(result == "failed" and "row 3" in (detail or "") for result, detail in logged)
        published = [
            r["payload"]["event_id"]
            for r in await gateway.outbox_rows()
            if r["payload"]["source_system"] == client_id
        ]
        assert sorted(published) == sorted(e["event_id"] for e in [*first, *later])
    finally:
        await adapter.close()


async def test_a_poisoned_file_is_moved_aside_after_n_tries_while_the_next_is_read(
    gateway: Gateway, tmp_path: Path
) -> None:
    client_id = await register(
        gateway.hub, f"files-{uuid.uuid4().hex[:8]}", COUNTY, channels=("file",)
    )
    adapter = FileDropAdapter(
        gateway.hub,
        FileDropSource(client_id=client_id, directory=str(tmp_path), settle_seconds=0.1),
    )
    adapter.max_attempts = 2
    system = CountySystem(COUNTY, seed=904)
    poisoned = [*system.case()[:1], {**system.case()[0], "detail": {"x": float("nan")}}]
    good = system.case()
    drop_file(tmp_path, "a-poisoned.csv", csv_bytes(poisoned))
    drop_file(tmp_path, "b-good.csv", csv_bytes(good))
    deep = xml_file_bytes(system.case()[:1]).replace(
        b"</hub:event>", _deep_xml_event(100_000) + b"</hub:event>", 1
    )
    drop_file(tmp_path, "c-deep.xml", deep)

    assert await adapter.poll_once() == 3
    assert (tmp_path / "a-poisoned.csv").exists()  # first failure: left for another try
    assert (tmp_path / "done" / "b-good.csv").exists()  # ...and the next file was read
    deep_report = json.loads((tmp_path / "failed" / "c-deep.xml.report.json").read_text())
    assert deep_report["error"]["code"] == "too-deep"

    assert await adapter.poll_once() == 1
    assert not (tmp_path / "a-poisoned.csv").exists()
    assert not (tmp_path / "a-poisoned.csv.done").exists()
    report = json.loads((tmp_path / "failed" / "a-poisoned.csv.report.json").read_text())
    assert report["outcome"] == "failed" and report["error"]["code"] == "processing-failed"
    assert "2 failed attempts" in report["error"]["message"]
    assert await adapter.poll_once() == 0
    published = [
        r["payload"]["event_id"]
        for r in await gateway.outbox_rows()
        if r["payload"]["source_system"] == client_id
    ]
    assert sorted(published) == sorted(e["event_id"] for e in good)


async def test_an_outage_of_the_hub_database_counts_against_no_file(
    gateway: Gateway, issuer: TestIssuer, tmp_path: Path
) -> None:
    """A database outage stops the poll (retried with backoff); the file is not blamed."""
    from gateway.app import create_app
    from tests.gateway.conftest import gateway_settings

    down = create_app(
        gateway_settings("postgresql+asyncpg://postgres@127.0.0.1:9/none", issuer)
    ).state.hub
    client_id = await register(
        gateway.hub, f"files-{uuid.uuid4().hex[:8]}", COUNTY, channels=("file",)
    )
    source = FileDropSource(client_id=client_id, directory=str(tmp_path), settle_seconds=0.1)
    drop_file(tmp_path, "day.csv", csv_bytes(CountySystem(COUNTY, seed=905).case()))
    outage = FileDropAdapter(down, source)
    outage.max_attempts = 1
    for _ in range(2):
        with pytest.raises((OSError, DBAPIError)):
            await outage.poll_once()
    await down.db.dispose()
    assert (tmp_path / "day.csv").exists() and not (tmp_path / "failed").exists()
    async with gateway.hub.db.sessionmaker() as session:
        counted = await session.scalar(
            select(func.count())
            .select_from(IntakeFailure)
            .where(IntakeFailure.source == f"file:{client_id}")
        )
    assert counted == 0
    # Back up: the same file goes through.
    assert await FileDropAdapter(gateway.hub, source).poll_once() == 1
    assert (tmp_path / "done" / "day.csv").exists()
