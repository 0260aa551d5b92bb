"""Cases consumer alone, in one process (Kafka → inbox → PostgreSQL) beside raw aiokafka on
the same broker, and an in-process backfill with one transaction per event."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from hub.broker import LocalBroker
from services.cases.store.tables import CaseEventRow
from services.runtime.messaging import Envelope
from tests.cases.factory import (
    at,
    case_no,
    impl_code,
    make_citizen_id,
    matter_data,
    natural,
    stream,
)
from tests.cases.support import cases_app
from tests.perf.bench_backbone import raw_roundtrip
from tests.perf.conftest import record
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory

N_KAFKA = 3_000
N_BACKFILL = 5_000


def events_for(code: str, n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out: list[dict] = []
    i = 0
    while len(out) < n:
        out += stream(
            rng,
            case_no(code, at("2026-03-02T09:00").date(), i % 10_000),
            at("2026-03-02T09:00"),
            applicant=natural(make_citizen_id(i)),
        )
        i += 1
    return out[:n]


async def history_count(h) -> int:  # type: ignore[no-untyped-def]
    async with h.hub.db.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(CaseEventRow)) or 0)


@pytest.mark.timeout(1200)
async def test_cases_consumer_and_backfill(pg: DatabaseFactory, broker: LocalBroker) -> None:
    raw = await raw_roundtrip(broker.bootstrap, 20_000)

    code = impl_code(n=random.randrange(10**9))
    events = events_for(code, N_KAFKA, 1)
    h = await cases_app(pg, kafka_enabled=True, kafka_bootstrap_servers=broker.bootstrap)
    producer = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=False, linger_ms=5
    )
    async with serve(h.app):
        await producer.start()
        while not h.hub.messaging.broker_connected:
            await asyncio.sleep(0.1)
        matter = Envelope(
            id=str(uuid.uuid4()),
            source="/bench",
            type="hub.matter.published",
            key=code,
            data=matter_data(code),
            time=datetime.now(UTC),
        )
        key, value, headers = matter.to_kafka()
        await producer.send_and_wait("hub.matters", value=value, key=key, headers=headers)
        await asyncio.sleep(2)
        start = time.perf_counter()
        for data in events:
            env = Envelope(
                id=str(uuid.uuid4()),
                source="/bench",
                type="hub.case.event.received",
                key=data["case_no"],
                data=data,
                time=datetime.now(UTC),
            )
            key, value, headers = env.to_kafka()
            await producer.send("hub.cases", value=value, key=key, headers=headers)
        await producer.flush()
        give_up = time.perf_counter() + 600
        while await history_count(h) < N_KAFKA:
            assert time.perf_counter() < give_up, "the consumer did not apply every event"
            await asyncio.sleep(0.2)
        consumer_rate = N_KAFKA / (time.perf_counter() - start)
        await producer.stop()

    backfill = await cases_app(pg)
    code2 = impl_code(n=random.randrange(10**9))
    await backfill.matter(matter_data(code2))
    history = events_for(code2, N_BACKFILL, 2)
    start = time.perf_counter()
    for data in history:
        await backfill.receive(data)
    backfill_rate = N_BACKFILL / (time.perf_counter() - start)
    await backfill.hub.db.dispose()

    figures = {
        "raw_aiokafka_roundtrip_per_s": round(raw),
        "cases_consumer_events_per_s": round(consumer_rate),
        "backfill_events_per_s": round(backfill_rate),
        "backfill_1m_hours_extrapolated": round(1_000_000 / backfill_rate / 3600, 2),
    }
    # The "Cases" section of docs/benchmarks.md is written by bench_case_flow.py, which
    # shows the consumer figure recorded here (var/bench/cases.json) beside the old one.
    record("cases", figures)
    assert consumer_rate > 0 and backfill_rate > 0
