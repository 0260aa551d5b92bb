"""End to the broker: intake events reach hub.cases as CloudEvents (binary mode), key 办件编号.

The gateway runs with its background pollers (file drop, exchange table) configured from
settings, exactly as in production, so the startup wiring is exercised too.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import aiomysql
from aiokafka import AIOKafkaConsumer

from gateway.adapters.intake.exchange_table import exchange_table_ddl
from gateway.app import create_app
from gateway.settings import ExchangeTableSource, FileDropSource
from hub.broker import LocalBroker
from tests.gateway.conftest import (
    MARIADB,
    gateway_settings,
    mysql_dsn,
    register,
    use_introspection,
)
from tests.peers.county_system import (
    COUNTIES,
    CountySystem,
    RestPusher,
    csv_bytes,
    drop_file,
    insert_exchange_rows,
)
from tests.peers.introspection import IntrospectionPeer
from tests.support.apps import migrate, serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer


async def _records_for(bootstrap: str, wanted: set[tuple[str, str]], expected: int) -> list[Any]:
    """This test's records, by (source system, event id): the session broker also holds
    other tests' events, some with the same case numbers."""
    consumer = AIOKafkaConsumer(
        "hub.cases",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[Any] = []
    try:
        for _ in range(120):
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                found.extend(r for r in records if _identity(r) in wanted)
            if len(found) >= expected:
                break
    finally:
        await consumer.stop()
    return found


def _identity(record: Any) -> tuple[str, str]:
    try:
        data = json.loads(record.value)
        return data["source_system"], data["event_id"]
    except (ValueError, KeyError, TypeError):
        return "", ""


async def test_all_channels_reach_hub_cases_as_cloudevents(
    pg: DatabaseFactory,
    broker: LocalBroker,
    issuer: TestIssuer,
    introspection_peer: IntrospectionPeer,
    tmp_path: Path,
    mariadb_database: str,
) -> None:
    url = await pg.create("gateway_broker")
    migrate("gateway", url)
    table = f"exchange_{uuid.uuid4().hex[:8]}"
    conn = await aiomysql.connect(**MARIADB, db=mariadb_database, charset="utf8mb4")
    async with conn.cursor() as cur:
        await cur.execute(exchange_table_ddl(table))
    await conn.commit()
    settings = gateway_settings(
        url,
        issuer,
        kafka_enabled=True,
        kafka_bootstrap_servers=broker.bootstrap,
        intake_poll_interval=0.2,
        intake_file_sources=[
            FileDropSource(client_id="county-files", directory=str(tmp_path), settle_seconds=0.2)
        ],
        intake_exchange_sources=[
            ExchangeTableSource(
                client_id="dept-exchange", dsn=mysql_dsn(mariadb_database), table=table
            )
        ],
    )
    # Fresh seeds: the session broker holds other tests' events, and a fixed seed would
    # give their case numbers again.
    seed = uuid.uuid4().int % 10**9
    rest_events = CountySystem(COUNTIES[0], seed=seed).stream(2)
    file_events = CountySystem(COUNTIES[1], seed=seed + 1).stream(2)
    table_events = CountySystem(COUNTIES[2], seed=seed + 2).stream(2)
    every = rest_events + file_events + table_events
    try:
        app = create_app(settings)
        http = use_introspection(app, introspection_peer)
        async with serve(app) as client:
            hub = app.state.hub
            await register(hub, "county-rest", COUNTIES[0])
            await register(hub, "county-files", COUNTIES[1], channels=("file",))
            await register(hub, "dept-exchange", COUNTIES[2], channels=("exchange-table",))
            pusher = RestPusher(client, issuer.client("county-rest", "cases:push"))
            assert (await pusher.push(rest_events)).json()["accepted"] == len(rest_events)
            drop_file(tmp_path, "today.csv", csv_bytes(file_events))
            await insert_exchange_rows(conn, table, table_events)
            wanted = {("county-rest", e["event_id"]) for e in rest_events}
            wanted |= {("county-files", e["event_id"]) for e in file_events}
            wanted |= {("dept-exchange", e["event_id"]) for e in table_events}
            records = await _records_for(broker.bootstrap, wanted, len(every))
            for _ in range(50):  # the pollers finish their write-back / move
                if (tmp_path / "done" / "today.csv").exists():
                    break
                await asyncio.sleep(0.1)
        await http.aclose()
    finally:
        conn.close()
    assert len(records) == len(every)
    by_event = {}
    for record in records:
        headers = {k: v.decode() for k, v in record.headers}
        data = json.loads(record.value)
        assert headers["ce_type"] == "hub.case.event.received"
        assert headers["ce_specversion"] == "1.0"
        assert headers["ce_source"] == "/hub/gateway"
        assert headers["content-type"].startswith("application/json")
        assert record.key.decode() == data["case_no"]
        by_event[(data["source_system"], data["event_id"])] = (headers, data)
    assert {k[0] for k in by_event} == {"county-rest", "county-files", "dept-exchange"}
    for source, events in (
        ("county-rest", rest_events),
        ("county-files", file_events),
        ("dept-exchange", table_events),
    ):
        for event in events:
            _headers, data = by_event[(source, event["event_id"])]
            assert data["stage"] == event["stage"] and data["seq"] == event["seq"]
    assert (tmp_path / "done" / "today.csv").exists()
