"""The real path: CloudEvents on a Kafka-protocol broker → inbox consumers → PostgreSQL.

Matter events arrive after some case events (those park, then unpark); case events are
shuffled and 20 % are redelivered — half as the same CloudEvent (the inbox drops them),
half re-pushed under a new CloudEvent id (the history drops them). The final rows must
equal what the pure domain computes from the events in source order.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from hub.broker import LocalBroker
from services.cases.domain.history import Handler, fold
from services.cases.store.tables import CaseRow, MatterReplica, ParkedEvent
from services.runtime.messaging import Envelope
from services.runtime.messaging.tables import dead_letters
from services.runtime.pii import citizen_id_ref, pii_cipher
from tests.cases.factory import (
    ORG_B,
    at,
    case_no,
    event_data,
    impl_code,
    make_citizen_id,
    matter_data,
    natural,
    stream,
    to_domain,
)
from tests.cases.support import cases_app
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory


def envelope(event_type: str, key: str, data: dict, ce_id: str | None = None) -> Envelope:
    return Envelope(
        id=ce_id or str(uuid.uuid4()),
        source="/hub/gateway",
        type=event_type,
        key=key,
        data=data,
        time=datetime.now(UTC),
    )


async def test_events_through_the_broker_end_in_the_domain_states(
    pg: DatabaseFactory, broker: LocalBroker
) -> None:
    rng = random.Random(42)
    code = impl_code(n=rng.randrange(10**9))  # unique per run on the shared broker
    day = at("2026-03-02T09:00").date()
    events: list[dict] = []
    for n in range(80):
        events += stream(
            rng,
            case_no(code, day, n),
            at("2026-03-02T09:00"),
            applicant=natural(make_citizen_id(n)),
            with_seq=n % 3 != 0,
        )
    records = [envelope("hub.case.event.received", e["case_no"], e) for e in events]
    again = rng.sample(records, len(records) // 5)
    records += [r if i % 2 else envelope(r.type, r.key, r.data) for i, r in enumerate(again)]
    rng.shuffle(records)

    h = await cases_app(
        pg,
        kafka_enabled=True,
        kafka_bootstrap_servers=broker.bootstrap,
        outbox_poll_interval=0.2,
        consumer_retry_backoff=0.05,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=False
    )
    async with serve(h.app):
        await producer.start()
        try:
            for _ in range(100):
                if h.hub.messaging.broker_connected:
                    break
                await asyncio.sleep(0.1)
            half = len(records) // 2
            for r in records[:half]:  # before the matter is known: these park
                key, value, headers = r.to_kafka()
                await producer.send("hub.cases", value=value, key=key, headers=headers)
            await producer.flush()
            for _ in range(200):  # the matter is unknown yet: events park, none is lost
                async with h.hub.db.sessionmaker() as s:
                    parked = await s.scalar(select(func.count()).select_from(ParkedEvent))
                if parked:
                    break
                await asyncio.sleep(0.1)
            assert parked
            matter = envelope("hub.matter.published", code, matter_data(code))
            key, value, headers = matter.to_kafka()
            await producer.send_and_wait("hub.matters", value=value, key=key, headers=headers)
            for r in records[half:]:
                key, value, headers = r.to_kafka()
                await producer.send("hub.cases", value=value, key=key, headers=headers)
            await producer.flush()

            expected = _expected(events)
            deadline = asyncio.get_running_loop().time() + 60
            while True:
                got = await _actual(h, code)
                if got == expected or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.5)
            assert got == expected
            # The session broker also carries other tests' case events (the group may
            # start from the earliest offset): look at this test's cases only.
            ours = {e["case_no"] for e in events}
            async with h.hub.db.sessionmaker() as s:
                still_parked = await s.scalar(
                    select(func.count())
                    .select_from(ParkedEvent)
                    .where(ParkedEvent.implementation_code == code)
                )
                dead = (await s.execute(select(dead_letters.c.key))).scalars().all()
            assert still_parked == 0
            assert not ours & set(dead)
            intake = next(c for c in h.hub.messaging.consumers if c.name == "cases-intake")
            assert intake.stats.duplicates >= len(again) // 2
        finally:
            await producer.stop()


def _expected(events: list[dict]) -> dict[str, tuple]:
    by_case: dict[str, list] = defaultdict(list)
    for e in events:
        by_case[e["case_no"]].append(to_domain(e))
    out = {}
    for number, evs in by_case.items():
        state = fold(evs)
        out[number] = (
            state.stage.value if state.stage else None,
            len(state.anomalies),
            state.accepted_at,
            state.closed_at,
        )
    return out


async def _actual(h, code: str) -> dict[str, tuple]:  # type: ignore[no-untyped-def]
    async with h.hub.db.sessionmaker() as s:
        rows = await s.execute(select(CaseRow).where(CaseRow.implementation_code == code))
        return {
            r.case_no: (r.stage, r.anomaly_count, r.accepted_at, r.closed_at)
            for r in rows.scalars()
        }


async def test_forged_events_through_the_broker_take_over_nothing(
    pg: DatabaseFactory, broker: LocalBroker
) -> None:
    """Issue 8, hole 3, on the real path: after each case's own events, a back-dated event
    naming another applicant and an event from another handling org arrive. Every case
    keeps its applicant and its org, and its anomalies are what the pure fold computes
    from the events in arrival order; the matter's 特别程序 limit reaches the replica."""
    rng = random.Random(8)
    code = impl_code(n=rng.randrange(10**9))
    day = at("2026-03-02T09:00").date()
    own, forged = [], []
    for n in range(30):
        number = case_no(code, day, n)
        events = stream(rng, number, at("2026-03-02T09:00"), applicant=natural(make_citizen_id(n)))
        own += events
        first = events[0]
        forged.append(
            event_data(
                number,
                "submitted",
                at("2026-03-01T08:00"),
                seq=0,
                source="rogue",
                applicant=natural(make_citizen_id(500 + n), "冒名者"),
            )
        )
        forged.append(
            event_data(
                number,
                "concluded",
                datetime.fromisoformat(first["occurred_at"]),
                seq=99,
                source="rogue",
                org=ORG_B,
                result={"decision": "approved", "certificate_type": "X", "certificate_data": {}},
            )
        )
    h = await cases_app(
        pg,
        kafka_enabled=True,
        kafka_bootstrap_servers=broker.bootstrap,
        outbox_poll_interval=0.2,
        consumer_retry_backoff=0.05,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=False
    )
    async with serve(h.app):
        await producer.start()
        try:
            matter = envelope("hub.matter.published", code, matter_data(code, special=7))
            key, value, headers = matter.to_kafka()
            await producer.send_and_wait("hub.matters", value=value, key=key, headers=headers)
            for e in own + forged:  # keyed by case: each case's events arrive in this order
                record = envelope("hub.case.event.received", e["case_no"], e)
                key, value, headers = record.to_kafka()
                await producer.send("hub.cases", value=value, key=key, headers=headers)
            await producer.flush()

            by_case: dict[str, list] = defaultdict(list)
            for e in own + forged:
                applicant = e["applicant"]
                by_case[e["case_no"]].append(
                    replace(
                        to_domain(e),
                        applicant=(applicant["type"], applicant["id_no"]) if applicant else None,
                        handler=Handler(e["handler"]["org_uscc"]),
                    )
                )
            expected = {number: len(fold(evs).anomalies) for number, evs in by_case.items()}
            cipher = pii_cipher(h.hub.settings)
            owners = {
                e["case_no"]: citizen_id_ref(cipher, e["applicant"]["id_no"])
                for e in own
                if e["applicant"]
            }
            deadline = asyncio.get_running_loop().time() + 60
            while True:
                async with h.hub.db.sessionmaker() as s:
                    rows = (
                        (
                            await s.execute(
                                select(CaseRow).where(CaseRow.implementation_code == code)
                            )
                        )
                        .scalars()
                        .all()
                    )
                got = {r.case_no: r.anomaly_count for r in rows}
                if got == expected or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.5)
            assert got == expected
            assert all(count >= 2 for count in got.values())  # both forgeries, every case
            assert {r.case_no: r.applicant_id_ref for r in rows} == owners
            assert {r.handler_org_uscc for r in rows} == {code[:18]}
            assert all(r.certificate_type != "X" for r in rows)  # the forged 办结 never applied
            async with h.hub.db.sessionmaker() as s:
                replica = await s.get(MatterReplica, code)
            assert replica is not None and replica.special_procedure_limit_days == 7
        finally:
            await producer.stop()
