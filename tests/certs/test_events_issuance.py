"""Issuance from ``hub.case.concluded``: once per 办件 whatever the re-deliveries; data that
does not validate waits in the pending queue until staff complete it."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from hub.broker import LocalBroker
from services.certs.domain.types import FOOD_LICENCE, SHAOGUAN_MARKET_USCC
from services.certs.service.issuance import from_concluded_case
from services.certs.store.tables import CertificateRow, PendingRow
from services.runtime.messaging import Envelope
from tests.certs.harness import CertsHarness, certs_app
from tests.certs.support import OPERATOR_USCC, food_face
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer, bearer

IMPL = f"{SHAOGUAN_MARKET_USCC}0001170080000"  # 实施编码 of the food-licence matter (31)


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer()


def concluded(seq: int, face: Any, decision: str = "approved", **extra: Any) -> dict[str, Any]:
    return {
        "case_no": f"{IMPL}20260302{seq:04d}",
        "implementation_code": IMPL,
        "matter_name": "食品经营许可",
        "case_type": "2",
        "handler": {"org_uscc": SHAOGUAN_MARKET_USCC, "department": "行政审批科"},
        "accepted_at": "2026-03-02T02:00:00+00:00",
        "concluded_at": "2026-03-10T02:00:00+00:00",
        "decision": decision,
        "certificate_type": FOOD_LICENCE.type_code,
        "certificate_data": face,
        "applicant": {"type": "legal", "id_type": "uscc", "id_ref": OPERATOR_USCC},
    } | extra


async def deliver(h: CertsHarness, data: dict[str, Any]) -> str:
    async with h.hub.db.transaction() as session:
        return await from_concluded_case(h.ctx, session, data)


async def count(h: CertsHarness, table: Any, case: dict[str, Any] | None = None) -> int:
    stmt = select(func.count()).select_from(table)
    if case is not None:
        stmt = stmt.where(table.case_no == case["case_no"])
    async with h.hub.db.sessionmaker() as s:
        return int(await s.scalar(stmt) or 0)


async def test_concluded_cases_issue_once_or_queue(pg: DatabaseFactory, issuer: TestIssuer) -> None:
    h = await certs_app(pg, issuer)
    assert await deliver(h, concluded(1, food_face())) == "issued"
    assert await deliver(h, concluded(1, food_face())) == "duplicate"
    assert await deliver(h, concluded(2, food_face(), decision="denied")) == "ignored"
    assert await deliver(h, concluded(3, None, certificate_type=None)) == "ignored"
    # Invalid 照面, a holder other than the applicant, an unknown type: all queued.
    assert await deliver(h, concluded(4, food_face(licence_no="JY2"))) == "pending"
    other = "91440203MA4UP9999X"
    wrong_holder = concluded(5, food_face(), applicant={"type": "legal", "id_ref": other})
    assert await deliver(h, wrong_holder) == "pending"
    assert await deliver(h, concluded(6, food_face(), certificate_type="X")) == "pending"
    assert await deliver(h, concluded(4, food_face(licence_no="JY2"))) == "duplicate"
    assert await count(h, CertificateRow) == 1 and await count(h, PendingRow) == 3
    assert [f["case_no"] for f in await h.facts("hub.cert.issued")] == [concluded(1, {})["case_no"]]

    staff = bearer(issuer.staff(SHAOGUAN_MARKET_USCC, ["certs-issuer"]))
    async with serve(h.app) as client:
        items = (await client.get("/v1/pending", headers=staff)).json()["items"]
        by_case = {i["case_no"][-4:]: i for i in items}
        assert {k: v["reason"] for k, v in by_case.items()} == {
            "0004": "face_invalid",
            "0005": "holder_mismatch",
            "0006": "unknown_type",
        }
        assert by_case["0004"]["errors"][0]["path"] == "/licence_no"
        assert by_case["0004"]["data"]["licence_no"] == "JY2"
        assert "JY2" in by_case["0004"]["errors"][0]["message"]
    async with h.hub.db.sessionmaker() as s:  # at rest: messages (which quote data) sealed
        stored = {r.case_no[-4:]: r for r in await s.scalars(select(PendingRow))}
    assert stored["0004"].errors == [{"path": "/licence_no", "keyword": "pattern"}]
    assert "JY2" not in (stored["0004"].data_enc or "")
    async with serve(h.app) as client:
        other_org = bearer(issuer.staff("11440200MB2C12353P", ["certs-issuer"]))
        assert (await client.get("/v1/pending", headers=other_org)).json()["items"] == []
        admin = bearer(issuer.staff("11440200MB2C12345W", ["certs-admin"]))
        no_org = concluded(7, food_face(), handler={"org_uscc": None})
        assert await deliver(h, no_org) == "pending"
        everything = (await client.get("/v1/pending", headers=admin)).json()["items"]
        assert {i["case_no"][-4:]: i["reason"] for i in everything}["0007"] == "no_issuer"
        assert len((await client.get("/v1/pending", headers=staff)).json()["items"]) == 3
        url = f"/v1/pending/{by_case['0004']['id']}/issue"
        r = await client.post(url, json={"face": food_face(licence_no="JY2")}, headers=staff)
        assert r.status_code == 422  # still wrong: stays pending
        r = await client.post(url, json={"face": food_face()}, headers=other_org)
        assert r.status_code == 404
        r = await client.post(url, json={"face": food_face()}, headers=staff)
        assert r.status_code == 201, r.text
        r = await client.post(url, json={"face": food_face()}, headers=staff)
        assert r.status_code == 409
        left = (await client.get("/v1/pending", headers=staff)).json()["items"]
        assert sorted(i["case_no"][-4:] for i in left) == ["0005", "0006"]
    assert await deliver(h, concluded(4, food_face())) == "duplicate"
    assert await count(h, CertificateRow) == 2


def envelope(data: dict[str, Any]) -> Envelope:
    return Envelope(
        id=str(uuid.uuid4()),
        source="/hub/cases",
        type="hub.case.concluded",
        key=data["case_no"],
        data=data,
        time=datetime.now(UTC),
    )


async def test_through_the_broker_redelivery_yields_one_certificate(
    pg: DatabaseFactory, broker: LocalBroker
) -> None:
    h = await certs_app(
        pg,
        kafka_enabled=True,
        kafka_bootstrap_servers=broker.bootstrap,
        outbox_poll_interval=0.2,
        consumer_retry_backoff=0.05,
    )
    seq = random.randrange(1000, 10_000)  # unique per run on the shared session broker
    data = concluded(seq, food_face())
    bad = concluded(seq - 1, food_face(business_form="无此业态"))
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
            # The same fact three times (new CloudEvent ids: the inbox cannot drop them).
            for record in (envelope(data), envelope(bad), envelope(data), envelope(data)):
                key, value, headers = record.to_kafka()
                await producer.send("hub.cases", value=value, key=key, headers=headers)
            await producer.flush()
            deadline = asyncio.get_running_loop().time() + 60
            while asyncio.get_running_loop().time() < deadline:
                if await count(h, CertificateRow, data) and await count(h, PendingRow, bad):
                    break
                await asyncio.sleep(0.3)
            await asyncio.sleep(1.0)  # the re-deliveries are handled too
        finally:
            await producer.stop()
        # The session broker also carries other tests' concluded cases: look at ours only.
        ours = {data["case_no"], bad["case_no"]}
        async with h.hub.db.sessionmaker() as s:
            certs = [c for c in await s.scalars(select(CertificateRow.case_no)) if c in ours]
            pending = [c for c in await s.scalars(select(PendingRow.case_no)) if c in ours]
        assert certs == [data["case_no"]] and pending == [bad["case_no"]]
