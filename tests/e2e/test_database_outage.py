"""A database outage under a running consumer (real processes, PostgreSQL, Kafka
protocol): its connections are terminated again and again while it applies a backlog.
Transient failures are waited out: nothing goes to the DLQ, nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import asyncpg
import httpx
import pytest

from hub.broker import LocalBroker
from tests.support.postgres import DatabaseFactory, admin_url
from tests.support.processes import AppProcess, wait_until

pytestmark = pytest.mark.e2e

NOTES = "tests.foundation.apps:create_notes_app"
COPIER = "tests.foundation.apps:create_copier_app"
COUNT = 400


def _env(db_url: str, bootstrap: str) -> dict[str, str]:
    return {
        "HUB_DATABASE_URL": db_url,
        "HUB_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "HUB_OUTBOX_POLL_INTERVAL": "0.2",
        # A low limit: before the fix, five failures in ~3 s sent valid events to the DLQ.
        "HUB_CONSUMER_MAX_ATTEMPTS": "2",
        "HUB_CONSUMER_RETRY_BACKOFF": "0.05",
        "HUB_CONSUMER_MAX_BACKOFF": "0.5",
    }


async def _terminate_for(database: str, seconds: float, stop: threading.Event) -> int:
    """Kill every backend connected to ``database`` every 50 ms (pg_terminate_backend)."""
    conn = await asyncpg.connect(admin_url())
    killed = 0
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end and not stop.is_set():
            killed += await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    return killed


def test_terminated_database_connections_send_nothing_to_the_dlq(
    pg: DatabaseFactory, broker: LocalBroker, log_dir: Path
) -> None:
    copier_url = pg.create_sync("copier_outage")
    copier_db = copier_url.rsplit("/", 1)[1].split("?")[0]
    notes = AppProcess(
        "notes-outage", NOTES, _env(pg.create_sync("notes_outage"), broker.bootstrap), log_dir
    )
    copier = AppProcess("copier-outage", COPIER, _env(copier_url, broker.bootstrap), log_dir)

    def copies() -> list[str]:
        rows = httpx.get(f"{copier.url}/v1/copies", timeout=10).json()["copies"]
        return [c["note_id"] for c in rows]

    try:
        notes.start()
        copier.start()
        warm = httpx.post(f"{notes.url}/v1/notes", json={"text": "warm"}, timeout=30).json()
        wait_until(lambda: len(copies()) >= 1, timeout=60, message="copier not consuming")
        ids = warm["ids"]
        for _ in range(4):
            r = httpx.post(
                f"{notes.url}/v1/notes", json={"text": "outage", "count": COUNT // 4}, timeout=30
            )
            ids += r.json()["ids"]
        # The copier is applying the backlog now: cut its database away for 4 s.
        killed = asyncio.run(_terminate_for(copier_db, 4.0, threading.Event()))
        assert killed > 0
        wait_until(lambda: len(copies()) >= COUNT + 1, timeout=120, message="events lost")
        stats = httpx.get(f"{copier.url}/v1/stats", timeout=10).json()
        assert stats["dead_lettered"] == 0 and stats["dead_letters"] == []
        got = copies()
        assert len(got) == COUNT + 1 and sorted(got) == sorted(ids)  # none twice
        assert "met a transient failure" in copier.log_text()
    finally:
        copier.stop()
        notes.stop()
