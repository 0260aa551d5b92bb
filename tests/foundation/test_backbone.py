"""The event backbone end to end: real processes, real PostgreSQL, real Kafka protocol."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.broker import LocalBroker, free_port
from tests.support.postgres import DatabaseFactory
from tests.support.processes import AppProcess, wait_until

pytestmark = pytest.mark.e2e

NOTES = "tests.foundation.apps:create_notes_app"
COPIER = "tests.foundation.apps:create_copier_app"


def base_env(db_url: str, bootstrap: str) -> dict[str, str]:
    return {
        "HUB_DATABASE_URL": db_url,
        "HUB_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "HUB_OUTBOX_POLL_INTERVAL": "0.2",
        "HUB_CONSUMER_MAX_ATTEMPTS": "3",
        "HUB_CONSUMER_RETRY_BACKOFF": "0.05",
        "HUB_KAFKA_TOPIC_PARTITIONS": "3",
    }


class Pair:
    """A notes process and a copier process on their own databases."""

    def __init__(self, pg: DatabaseFactory, broker_bootstrap: str, log_dir: Path) -> None:
        self.notes = AppProcess(
            "notes", NOTES, base_env(pg.create_sync("notes"), broker_bootstrap), log_dir
        )
        self.copier = AppProcess(
            "copier", COPIER, base_env(pg.create_sync("copier"), broker_bootstrap), log_dir
        )

    def post_notes(self, text: str, count: int = 1) -> list[str]:
        r = httpx.post(
            f"{self.notes.url}/v1/notes", json={"text": text, "count": count}, timeout=30
        )
        assert r.status_code == 201, r.text
        return r.json()["ids"]

    def copies(self) -> list[dict[str, str]]:
        return httpx.get(f"{self.copier.url}/v1/copies", timeout=10).json()["copies"]

    def stats(self) -> dict:
        return httpx.get(f"{self.copier.url}/v1/stats", timeout=10).json()

    def pending(self) -> int:
        return httpx.get(f"{self.notes.url}/v1/outbox/pending", timeout=10).json()["pending"]

    def stop(self) -> None:
        self.notes.stop()
        self.copier.stop()


@pytest.fixture
def pair(pg: DatabaseFactory, broker: LocalBroker, log_dir: Path) -> Iterator[Pair]:
    p = Pair(pg, broker.bootstrap, log_dir)
    p.notes.start()
    p.copier.start()
    yield p
    p.stop()


def test_each_event_takes_effect_exactly_once_across_processes(pair: Pair) -> None:
    ids = pair.post_notes("hello 你好", count=300)
    wait_until(lambda: len(pair.copies()) >= 300, timeout=60, message="copies did not arrive")
    copies = pair.copies()
    assert sorted(c["note_id"] for c in copies) == sorted(ids)
    assert {c["text"] for c in copies} == {"hello 你好"}
    assert pair.pending() == 0


def test_one_aggregates_events_arrive_in_the_order_they_were_committed(pair: Pair) -> None:
    ids: list[str] = []
    for _ in range(5):  # several transactions, all on one key
        r = httpx.post(
            f"{pair.notes.url}/v1/notes",
            json={"text": "ordered", "count": 100, "key": "case-0001"},
            timeout=30,
        )
        assert r.status_code == 201
        ids += r.json()["ids"]
    wait_until(lambda: sum(c["text"] == "ordered" for c in pair.copies()) >= 500, timeout=60)
    assert [c["note_id"] for c in pair.copies() if c["text"] == "ordered"] == ids


def test_consumer_killed_before_offset_commit_applies_nothing_twice(
    pg: DatabaseFactory, broker: LocalBroker, log_dir: Path
) -> None:
    p = Pair(pg, broker.bootstrap, log_dir)
    try:
        p.notes.start()
        ids = p.post_notes("crash me", count=400)
        # The copier dies after applying >= 50 events, before committing any offset.
        p.copier.start(extra_env={"HUB_FAULT_CRASH_AFTER_APPLY": "50"}, wait="")
        assert p.copier.wait_exit(timeout=60) == 137
        p.copier.start()
        # The restarted consumer is handed again what the crashed one applied but never
        # acknowledged; the inbox must absorb every such redelivery.
        wait_until(
            lambda: p.stats()["duplicates"] >= 1,
            timeout=60,
            message="no redelivery seen: the crash window was not exercised",
        )
        wait_until(lambda: p.stats()["copies"] >= 400, timeout=60)
        copies = p.copies()
        note_ids = [c["note_id"] for c in copies]
        assert len(note_ids) == 400
        assert sorted(note_ids) == sorted(ids)
    finally:
        p.stop()


def test_state_commits_while_broker_is_down_and_everything_arrives_after(
    pg: DatabaseFactory, log_dir: Path
) -> None:
    """A broker outage (the process frozen: every connection hangs, nothing answers)."""
    own = LocalBroker(free_port(), log_dir / "broker-outage.log")
    own.start()
    p = Pair(pg, own.bootstrap, log_dir)
    try:
        p.notes.start()
        p.copier.start()
        first = p.post_notes("before outage", count=20)
        wait_until(lambda: len(p.copies()) >= 20, timeout=60)
        assert own.process is not None
        own.process.send_signal(signal.SIGSTOP)
        try:
            during = [i for _ in range(10) for i in p.post_notes("during outage", count=10)]
            time.sleep(2)
            assert p.pending() == 100  # committed locally, none could be published
        finally:
            own.process.send_signal(signal.SIGCONT)
        wait_until(lambda: p.pending() == 0, timeout=90, message="outbox not drained")
        wait_until(
            lambda: len(p.copies()) >= 120,
            timeout=90,
            message="events of the outage did not arrive",
        )
        got = sorted(c["note_id"] for c in p.copies())
        assert got == sorted(first + during)
    finally:
        p.stop()
        own.stop()


def test_events_committed_while_broker_is_gone_reach_a_fresh_broker(
    pg: DatabaseFactory, log_dir: Path
) -> None:
    """The broker process ends (in-memory: it forgets everything) and a new one starts:
    the relay re-creates the topics and publishes every committed event."""
    import asyncio

    own = LocalBroker(free_port(), log_dir / "broker-restart.log")
    own.start()
    notes = AppProcess("notes", NOTES, base_env(pg.create_sync("notes"), own.bootstrap), log_dir)
    try:
        notes.start()
        own.stop()
        r = httpx.post(
            f"{notes.url}/v1/notes", json={"text": "while gone", "count": 50}, timeout=30
        )
        assert r.status_code == 201
        ids = r.json()["ids"]
        own.start()
        wait_until(
            lambda: httpx.get(f"{notes.url}/v1/outbox/pending").json()["pending"] == 0,
            timeout=90,
            message="outbox not drained after the broker came back",
        )
        records = asyncio.run(_read_topic(own.bootstrap, "hub.test-notes", 50))
        assert sorted(json.loads(r.value)["note_id"] for r in records) == sorted(ids)
    finally:
        notes.stop()
        own.stop()


def test_rolled_back_transaction_publishes_nothing(pair: Pair) -> None:
    r = httpx.post(f"{pair.notes.url}/v1/notes/rolled-back", json={"text": "ghost"}, timeout=10)
    assert r.status_code == 409
    ghost_id = r.json()["note_id"]
    after = pair.post_notes("after the rollback")
    wait_until(lambda: any(c["note_id"] == after[0] for c in pair.copies()), timeout=60)
    assert pair.pending() == 0
    assert all(c["note_id"] != ghost_id for c in pair.copies())
    assert all(c["text"] != "ghost" for c in pair.copies())


async def _read_topic(bootstrap: str, topic: str, count: int) -> list:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list = []
    try:
        for _ in range(40):
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                records.extend(recs)
            if len(records) >= count:
                break
    finally:
        await consumer.stop()
    return records


async def _produce_garbage(bootstrap: str) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    try:
        await (await producer.send("hub.test-notes", value=b"{not json", key=b"x"))
    finally:
        await producer.stop()


def test_unprocessable_events_go_to_the_dlq_and_later_events_still_flow(
    pair: Pair, broker: LocalBroker
) -> None:
    import asyncio

    poison = pair.post_notes("poison")[0]
    asyncio.run(_produce_garbage(broker.bootstrap))
    later = pair.post_notes("still flowing", count=5)
    wait_until(lambda: sum(c["note_id"] in later for c in pair.copies()) == 5, timeout=60)
    wait_until(lambda: pair.stats()["dead_lettered"] >= 2, timeout=30)
    stats = pair.stats()
    poisoned = [d for d in stats["dead_letters"] if "can never be copied" in d["error"]]
    assert len(poisoned) == 1 and poisoned[0]["event_id"]
    assert any(d["event_id"] is None and "CloudEvents" in d["error"] for d in stats["dead_letters"])
    assert all(c["note_id"] != poison for c in pair.copies())

    records = asyncio.run(_read_topic(broker.bootstrap, "hub.test-notes.dlq", 2))
    dead = [r for r in records if r.value != b"{not json"]
    assert [json.loads(r.value)["note_id"] for r in dead] == [poison]
    headers = dict(dead[0].headers)
    assert headers["ce_id"].decode() == poisoned[0]["event_id"]
    assert b"can never be copied" in headers["dlq_error"]
    assert headers["dlq_attempts"] == b"3"
    assert headers["dlq_consumer"] == b"copier"
    assert headers["dlq_source_topic"] == b"hub.test-notes"
    assert any(r.value == b"{not json" for r in records)
