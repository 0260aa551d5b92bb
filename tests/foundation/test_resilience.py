"""Resilience of the shared runtime against real PostgreSQL, SQLite and the Kafka protocol:
transient database failures never reach the DLQ, refusals do at once (sealed at rest),
unpublishable outbox rows are parked without blocking other keys, retention purges only
what is old, and readiness survives a broker outage."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from contracts import EVENTS_DIR, EventContracts
from hub.broker import LocalBroker
from services.runtime.app import create_service_app
from services.runtime.db import Database, utcnow
from services.runtime.messaging import Envelope, PermanentEventError
from services.runtime.messaging.consumer import InboxConsumer
from services.runtime.messaging.dead_letters import read_dead_letters, resolve_dead_letter
from services.runtime.messaging.errors import is_transient_db_error
from services.runtime.messaging.kafka import ensure_topics
from services.runtime.messaging.outbox import (
    OutboxRelay,
    backlog,
    discard_parked,
    pending_count,
)
from services.runtime.messaging.tables import dead_letters, inbox, messaging_metadata, outbox
from services.runtime.pii import pii_cipher
from services.runtime.retention import Retention
from services.runtime.settings import HubSettings
from tests.foundation.apps import CONTRACTS_DIR, Base, NoteCopy
from tests.support.apps import migrate, serve
from tests.support.postgres import DatabaseFactory

CONTRACTS = EventContracts([EVENTS_DIR, CONTRACTS_DIR])
CITIZEN_ID = "11010519491231002X"


async def _database(url: str) -> Database:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(messaging_metadata.create_all)
        await conn.run_sync(Base.metadata.create_all)
    return db


async def _records(bootstrap: str, texts: list[str]) -> list[ConsumerRecord]:
    """Publish note events to a fresh topic and read them back as real Kafka records."""
    topic = f"hub.test-resilience-{uuid.uuid4().hex[:8]}"
    settings = HubSettings(kafka_bootstrap_servers=bootstrap, kafka_topic_partitions=1)
    await ensure_topics(settings, {topic})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for i, body in enumerate(texts):
            envelope = Envelope(
                id=str(uuid.uuid4()),
                source="/hub/test",
                type="hub.test.note.created",
                key="k",
                data={"note_id": f"n{i}", "text": body},
            )
            key, value, headers = envelope.to_kafka()
            await (await producer.send(topic, value=value, key=key, headers=headers))
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        for _ in range(40):
            for recs in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(recs)
            if len(records) >= len(texts):
                break
    finally:
        await consumer.stop()
    assert len(records) == len(texts)
    return records


async def _producer(bootstrap: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    return producer


def _consumer(db: Database, handler, name: str = "copier") -> InboxConsumer:  # type: ignore[no-untyped-def]
    return InboxConsumer(
        name=name,
        topics=[],
        handler=handler,
        db=db,
        contracts=CONTRACTS,
        max_attempts=3,
        retry_backoff=0.01,
        max_backoff=0.05,
        cipher=pii_cipher(HubSettings()),
    )


async def _copy(session: AsyncSession, event: Envelope) -> None:
    session.add(NoteCopy(note_id=event.data["note_id"], text=event.data["text"]))


async def test_consumer_connections_terminated_mid_batch_send_nothing_to_the_dlq(
    pg: DatabaseFactory, broker: LocalBroker
) -> None:
    url = await pg.create("res_transient")
    db = await _database(url)
    admin = create_async_engine(url)
    records = await _records(broker.bootstrap, [f"note {i}" for i in range(20)])
    killed = 0

    async def flaky(session: AsyncSession, event: Envelope) -> None:
        nonlocal killed
        # Mid-batch, and more times than the attempt limit: the outage outlasts it.
        if event.data["note_id"] == "n7" and killed < 6:
            pid = await session.scalar(text("SELECT pg_backend_pid()"))
            async with admin.connect() as conn:
                await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            killed += 1
            await session.execute(text("SELECT 1"))  # the connection is gone
        await _copy(session, event)

    producer = await _producer(broker.bootstrap)
    try:
        consumer = _consumer(db, flaky)
        await consumer.process_batch(records, producer)
    finally:
        await producer.stop()
    async with db.sessionmaker() as s:
        copies = list(await s.scalars(select(NoteCopy.note_id)))
        dead = await s.scalar(select(func.count()).select_from(dead_letters))
    assert killed == 6
    assert sorted(copies) == sorted(f"n{i}" for i in range(20))  # each exactly once
    assert dead == 0 and consumer.stats.dead_lettered == 0
    await admin.dispose()
    await db.dispose()


async def test_a_refused_event_goes_to_the_dlq_at_once_sealed_at_rest(
    pg: DatabaseFactory, broker: LocalBroker
) -> None:
    db = await _database(await pg.create("res_refused"))
    texts = ["fine", f"applicant {CITIZEN_ID}", "odd", "fine again"]
    records = await _records(broker.bootstrap, texts)
    calls: dict[str, int] = {}

    async def picky(session: AsyncSession, event: Envelope) -> None:
        calls[event.data["note_id"]] = calls.get(event.data["note_id"], 0) + 1
        if event.data["note_id"] == "n1":
            raise PermanentEventError("the rule refuses this applicant")
        if event.data["note_id"] == "n2":
            raise ValueError("an error nobody classified")
        await _copy(session, event)

    producer = await _producer(broker.bootstrap)
    try:
        consumer = _consumer(db, picky)
        await consumer.process_batch(records, producer)
    finally:
        await producer.stop()
    # The optimistic batch stops at n1; one by one, the refusal is not retried and the
    # unknown error is tried max_attempts times.
    assert calls["n1"] == 2 and calls["n2"] == 3
    async with db.sessionmaker() as s:
        rows = (await s.execute(select(dead_letters).order_by(dead_letters.c.id))).all()
        copies = set(await s.scalars(select(NoteCopy.note_id)))
    assert copies == {"n0", "n3"}
    assert [(r.attempts, r.error.split(":")[0]) for r in rows] == [
        (1, "refused"),
        (3, "ValueError"),
    ]
    refused = rows[0]
    assert CITIZEN_ID not in refused.value and "applicant" not in refused.value
    assert CITIZEN_ID not in str(refused.headers) and "ce_id" not in str(refused.headers)
    async with db.sessionmaker() as s:
        readable = await read_dead_letters(s, pii_cipher(HubSettings()))
    assert [d["event_id"] for d in readable] == [rows[0].event_id, rows[1].event_id]
    assert "applicant 1101**********002X" in readable[0]["value"]
    assert CITIZEN_ID not in readable[0]["value"]  # decrypted, then masked
    assert readable[0]["headers"]["ce_id"] == rows[0].event_id
    async with db.transaction() as s:
        assert await resolve_dead_letter(s, rows[0].id, "discarded")
    async with db.sessionmaker() as s:
        assert len(await read_dead_letters(s, pii_cipher(HubSettings()))) == 1
    await db.dispose()


def _outbox_row(topic: str, key: str, payload: dict[str, object]) -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid4()),
        "topic": topic,
        "key": key,
        "event_type": "hub.test.note.created",
        "source": "/hub/test",
        "subject": key,
        "dataschema": None,
        "occurred_at": utcnow(),
        "payload": payload,
        "trace_headers": {},
        "created_at": utcnow(),
        "attempts": 0,
    }


async def test_an_unpublishable_row_is_parked_and_other_keys_flow(
    pg: DatabaseFactory, broker: LocalBroker
) -> None:
    db = await _database(await pg.create("res_park"))
    topic = f"hub.test-park-{uuid.uuid4().hex[:8]}"
    await ensure_topics(HubSettings(kafka_bootstrap_servers=broker.bootstrap), {topic})
    huge = {"note_id": "huge", "text": "x" * 2_000_000}  # beyond the broker's request size
    rows = [
        _outbox_row(topic, "k1", {"note_id": "a", "text": "a"}),
        _outbox_row(topic, "big", huge),
        _outbox_row(topic, "big", {"note_id": "c", "text": "behind the parked row"}),
        _outbox_row(topic, "k2", {"note_id": "d", "text": "d"}),
    ]
    async with db.transaction() as s:
        await s.execute(insert(outbox), rows)
    producer = await _producer(broker.bootstrap)
    try:
        relay = OutboxRelay(db, producer, max_attempts=3)
        for _ in range(10):
            try:
                await relay.drain_once()
            except Exception:  # a counted failure, before the row is parked
                continue
        async with db.sessionmaker() as s:
            state = {
                r.event_id: r for r in (await s.execute(select(outbox).order_by(outbox.c.id))).all()
            }
            report = await backlog(s)
        a, big, behind, d = (state[r["event_id"]] for r in rows)  # type: ignore[index]
        assert a.published_at is not None and d.published_at is not None  # others flow
        assert big.parked_at is not None and big.attempts == 3 and big.published_at is None
        assert "MessageSizeTooLarge" in (big.last_error or "")
        assert behind.published_at is None and behind.parked_at is None  # key order kept
        assert report["parked"] == 1 and report["pending"] == 2
        assert relay.parked_total == 1
        async with db.transaction() as s:
            assert await discard_parked(s, big.id)
        await relay.drain_once()
        async with db.sessionmaker() as s:
            assert await pending_count(s) == 0
    finally:
        await producer.stop()
    await db.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
async def any_db(
    request: pytest.FixtureRequest, pg: DatabaseFactory, tmp_path: Path
) -> AsyncIterator[Database]:
    if request.param == "postgresql":
        url = await pg.create("res_retention")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'retention.db'}"
    db = await _database(url)
    yield db
    await db.dispose()


async def test_retention_purges_old_rows_in_batches_and_keeps_recent_ones(any_db: Database) -> None:
    db = any_db
    now = utcnow()
    old, recent = now - timedelta(days=40), now - timedelta(hours=1)
    outbox_rows = []
    for i, (published, parked) in enumerate(
        [(old, None), (old, None), (old, None), (recent, None), (None, None), (None, old)]
    ):
        row = _outbox_row("hub.t", f"k{i}", {"note_id": str(i), "text": "t"})
        row.update(published_at=published, parked_at=parked, created_at=old)
        outbox_rows.append(row)
    inbox_rows = [
        {
            "consumer": "c",
            "event_id": f"e{i}",
            "event_type": "t",
            "topic": "hub.t",
            "partition": 0,
            "offset": i,
            "status": "done",
            "processed_at": at,
        }
        for i, at in enumerate([old, old, old, recent])
    ]
    dead_rows = [
        {
            "consumer": "c",
            "topic": "hub.t",
            "partition": 0,
            "offset": i,
            "error": "e",
            "attempts": 1,
            "headers": {},
            "value": "v",
            "created_at": old,
            "resolved_at": resolved,
            "resolution": "discarded" if resolved else None,
        }
        for i, resolved in enumerate([old, recent, None])
    ]
    async with db.transaction() as s:
        await s.execute(insert(outbox), outbox_rows)
        await s.execute(insert(inbox), inbox_rows)
        await s.execute(insert(dead_letters), dead_rows)
    async with db.sessionmaker() as s:
        report = await backlog(s)
    assert (report["pending"], report["parked"]) == (2, 1)
    assert report["oldest_age_seconds"] >= 40 * 86400
    settings = HubSettings(retention_batch_size=2)
    retention = Retention(db, settings)
    assert await retention.run_once() == 2  # a full batch: the runner comes back at once
    await retention.run_until_done()
    async with db.sessionmaker() as s:
        kept_outbox = list(await s.scalars(select(outbox.c.key).order_by(outbox.c.id)))
        kept_inbox = list(await s.scalars(select(inbox.c.event_id).order_by(inbox.c.event_id)))
        kept_dead = list(await s.scalars(select(dead_letters.c.offset).order_by("offset")))
    assert kept_outbox == ["k3", "k4", "k5"]  # recent, pending and parked stay
    assert kept_inbox == ["e3"]
    assert kept_dead == [1, 2]  # recently resolved and unresolved stay


async def test_gateway_and_identity_register_their_own_purges(pg: DatabaseFactory) -> None:
    from gateway.store.retention import register_retention as gateway_rules
    from gateway.store.tables import UsedNonce
    from services.identity.store.retention import register_retention as identity_rules
    from services.identity.store.tables import SmsCode

    now = utcnow()
    gw_url, id_url = await pg.create("res_gw"), await pg.create("res_id")
    await asyncio.to_thread(migrate, "gateway", gw_url)
    await asyncio.to_thread(migrate, "identity", id_url)
    gw, ident = Database(gw_url), Database(id_url)
    async with gw.transaction() as s:
        s.add_all(
            [
                UsedNonce(app_key="a", nonce="old", expires_at=now - timedelta(days=3)),
                UsedNonce(app_key="a", nonce="live", expires_at=now + timedelta(minutes=5)),
            ]
        )
    async with ident.transaction() as s:
        s.add_all(
            [
                SmsCode(
                    id="old", phone_index="p", code_hash="h", expires_at=now - timedelta(days=3)
                ),
                SmsCode(id="new", phone_index="p", code_hash="h", expires_at=now),
            ]
        )
    settings = HubSettings()
    gw_retention, id_retention = Retention(gw, settings), Retention(ident, settings)
    gateway_rules(gw_retention)
    identity_rules(id_retention)
    await gw_retention.run_until_done()
    await id_retention.run_until_done()
    async with gw.sessionmaker() as s:
        assert list(await s.scalars(select(UsedNonce.nonce))) == ["live"]
    async with ident.sessionmaker() as s:
        assert list(await s.scalars(select(SmsCode.id))) == ["new"]
    await gw.dispose()
    await ident.dispose()


async def test_readiness_stays_200_with_the_broker_down_and_reports_the_backlog(
    pg: DatabaseFactory,
) -> None:
    url = await pg.create("res_ready")
    db = await _database(url)
    async with db.transaction() as s:
        row = _outbox_row("hub.t", "k", {"note_id": "1", "text": "t"})
        row["created_at"] = utcnow() - timedelta(seconds=30)
        await s.execute(insert(outbox).values(**row))
    await db.dispose()
    settings = HubSettings(
        service_name="ready", database_url=url, kafka_bootstrap_servers="127.0.0.1:1"
    )
    app = create_service_app(settings=settings, title="ready (test)", contracts=CONTRACTS)
    async with serve(app) as client:
        r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "degraded"
    assert body["checks"] == {"database": "ok", "broker": "unreachable"}
    assert body["outbox"]["pending"] == 1 and body["outbox"]["oldest_age_seconds"] >= 30


def test_transient_classification() -> None:
    import sqlite3

    from sqlalchemy.exc import IntegrityError, OperationalError

    locked = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    schema = OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))
    assert is_transient_db_error(locked)
    assert not is_transient_db_error(schema)
    assert is_transient_db_error(ConnectionRefusedError(111, "refused"))
    assert not is_transient_db_error(IntegrityError("INSERT", {}, Exception("duplicate")))
    assert not is_transient_db_error(ValueError("bad data"))
