"""Nothing is lost across a restart of `make run`: the local broker is in memory, so when
it comes back empty the relays publish their recent events again and the consumers'
inboxes absorb what was already applied. Real processes on SQLite files, like make run."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from hub.broker import LocalBroker, free_port
from tests.support.processes import AppProcess, wait_until

pytestmark = pytest.mark.e2e

NOTES = "tests.foundation.apps:create_notes_app"
COPIER = "tests.foundation.apps:create_copier_app"


def _env(db_file: Path, bootstrap: str) -> dict[str, str]:
    return {
        "HUB_DATABASE_URL": f"sqlite+aiosqlite:///{db_file}",
        "HUB_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "HUB_OUTBOX_POLL_INTERVAL": "0.2",
        "HUB_KAFKA_TOPIC_PARTITIONS": "3",
    }


def test_events_relayed_but_not_consumed_survive_a_restart_of_everything(
    tmp_path: Path, log_dir: Path
) -> None:
    broker = LocalBroker(free_port(), log_dir / "broker-make-run-restart.log")
    broker.start()
    notes = AppProcess(
        "notes-restart", NOTES, _env(tmp_path / "notes.db", broker.bootstrap), log_dir
    )
    copier = AppProcess(
        "copier-restart", COPIER, _env(tmp_path / "copier.db", broker.bootstrap), log_dir
    )

    def post(text: str, count: int) -> list[str]:
        r = httpx.post(f"{notes.url}/v1/notes", json={"text": text, "count": count}, timeout=30)
        assert r.status_code == 201, r.text
        return r.json()["ids"]

    def pending() -> int:
        return httpx.get(f"{notes.url}/v1/outbox/pending", timeout=10).json()["pending"]

    def copies() -> list[str]:
        rows = httpx.get(f"{copier.url}/v1/copies", timeout=10).json()["copies"]
        return [c["note_id"] for c in rows]

    try:
        notes.start()
        copier.start()
        consumed = post("consumed before the stop", 20)
        wait_until(lambda: len(copies()) >= 20, timeout=60, message="first notes not copied")
        copier.stop()
        in_flight = post("relayed, never consumed", 30)
        wait_until(lambda: pending() == 0, timeout=60, message="not relayed before the stop")

        # `make run` stopped and started again: every process and the in-memory broker.
        notes.stop()
        broker.stop()
        broker.start()
        notes.start()
        copier.start()

        wait_until(
            lambda: len(copies()) >= 50,
            timeout=90,
            message="events relayed before the restart were lost",
        )
        wait_until(
            lambda: httpx.get(f"{copier.url}/v1/stats", timeout=10).json()["duplicates"] >= 20,
            timeout=60,
            message="the replay did not reach the copier",
        )
        got = copies()
        assert len(got) == 50  # each applied exactly once: the inbox absorbed the replay
        assert sorted(got) == sorted(consumed + in_flight)
        assert pending() == 0
    finally:
        copier.stop()
        notes.stop()
        broker.stop()
