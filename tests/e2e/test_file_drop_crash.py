"""A file is processed exactly once even when the gateway process is killed mid-file
(SIGKILL, no clean shutdown): on restart the file is either re-read whole (its
transaction never committed) or moved to done/ without publishing again."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import asyncpg
import pytest

from gateway.clients.registry import register_client
from hub.broker import LocalBroker
from services.runtime.db import Database
from tests.peers.county_system import COUNTIES, CountySystem, csv_bytes, drop_file
from tests.support.apps import migrate
from tests.support.postgres import DatabaseFactory
from tests.support.processes import AppProcess, wait_until

pytestmark = pytest.mark.e2e

CLIENT = "county-files-crash"


async def _register(url: str) -> None:
    """Only a registered system's directory is read."""
    db = Database(url)
    try:
        await register_client(
            db,
            client_id=CLIENT,
            name="武江区审批系统 (files)",
            orgs=[COUNTIES[1].bureau_uscc],
            channels=("file",),
        )
    finally:
        await db.dispose()


async def _published_event_ids(url: str) -> list[str]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch(
            "SELECT payload FROM outbox WHERE event_type = $1", "hub.case.event.received"
        )
    finally:
        await conn.close()
    payloads = [
        json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"] for r in rows
    ]
    return [p["event_id"] for p in payloads if p["source_system"] == CLIENT]


@pytest.mark.parametrize("kill_after", [0.3, 1.5])
def test_gateway_killed_mid_file_publishes_each_event_once(
    pg: DatabaseFactory, broker: LocalBroker, log_dir: Path, tmp_path: Path, kill_after: float
) -> None:
    url = pg.create_sync("crash_gateway")
    migrate("gateway", url)
    asyncio.run(_register(url))
    system = CountySystem(COUNTIES[1], seed=7)
    events = system.stream(600)
    inbox = tmp_path / "drop"
    inbox.mkdir()
    gateway = AppProcess(
        "gateway",
        "gateway.app:create_app",
        {
            "HUB_DATABASE_URL": url,
            "HUB_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "HUB_INTAKE_POLL_INTERVAL": "0.1",
            "HUB_INTAKE_FILE_SOURCES": json.dumps(
                [{"client_id": CLIENT, "directory": str(inbox), "settle_seconds": 0.2}]
            ),
        },
        log_dir,
    )
    gateway.start()
    try:
        drop_file(inbox, "big.csv", csv_bytes(events))
        time.sleep(kill_after)
        gateway.kill()  # SIGKILL: no shutdown hooks, possibly mid-transaction
        gateway.start()
        wait_until(
            lambda: (inbox / "done" / "big.csv").exists(),
            timeout=60,
            message="the file was not finished after the restart",
        )
        published = asyncio.run(_published_event_ids(url))
        assert sorted(published) == sorted(e["event_id"] for e in events)
        assert len(published) == len(set(published))
        assert not (inbox / "big.csv").exists()
    finally:
        gateway.stop()
