"""The real contract between two services: the cases app concludes a food-licence 办件 and
tells ``hub.case.concluded`` through the broker; the certs app issues the certificate the
applicant (a company) then sees — signed, and verifiable by anyone."""

from __future__ import annotations

import asyncio
import random
import uuid

from sqlalchemy import select

from hub.broker import LocalBroker
from services.certs.domain.types import FOOD_LICENCE, SHAOGUAN_MARKET_USCC
from services.certs.store.tables import CertificateRow
from tests.cases.factory import at, event_data, legal, matter_data
from tests.cases.support import cases_app
from tests.certs.harness import certs_app
from tests.certs.support import OPERATOR_USCC, food_face
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer, bearer


async def test_a_concluded_case_becomes_a_certificate(
    pg: DatabaseFactory, broker: LocalBroker
) -> None:
    issuer = TestIssuer()
    kafka = {
        "kafka_enabled": True,
        "kafka_bootstrap_servers": broker.bootstrap,
        "outbox_poll_interval": 0.2,
        "consumer_retry_backoff": 0.05,
    }
    cases = await cases_app(pg, **kafka)
    certs = await certs_app(pg, issuer, **kafka)
    code = f"{SHAOGUAN_MARKET_USCC}{random.randrange(10**12, 10**13)}"  # unique per run
    number = f"{code}202603020001"
    result = {
        "decision": "approved",
        "certificate_type": FOOD_LICENCE.type_code,
        "certificate_data": food_face(),
    }
    async with serve(cases.app), serve(certs.app) as client:
        await cases.matter(matter_data(code))
        steps = [("submitted", "09:00"), ("accepted", "10:00"), ("decided", "11:00")]
        steps.append(("concluded", "12:00"))
        for seq, (stage, hour) in enumerate(steps, start=1):
            await cases.receive(
                event_data(
                    number,
                    stage,
                    at(f"2026-03-02T{hour}"),
                    seq=seq,
                    event_id=uuid.uuid4().hex,
                    applicant=legal(OPERATOR_USCC, "韶关市武江区好味道餐饮店")
                    if seq == 1
                    else None,
                    result=result if stage in ("decided", "concluded") else None,
                ),
                now=at(f"2026-03-02T{hour}"),
            )
        assert [f["case_no"] for f in await cases.facts("hub.case.concluded")] == [number]
        row = None
        deadline = asyncio.get_running_loop().time() + 60
        while row is None and asyncio.get_running_loop().time() < deadline:
            async with certs.hub.db.sessionmaker() as s:
                row = await s.scalar(select(CertificateRow).where(CertificateRow.case_no == number))
            await asyncio.sleep(0.3)
        assert row is not None, "no certificate issued from the concluded case"
        company = bearer(issuer.company(OPERATOR_USCC))
        mine = await client.get(f"/v1/me/certificates/{row.certificate_id}", headers=company)
        assert mine.status_code == 200
        qr = mine.json()["qr_text"]
        assert (await client.post("/v1/verify", json={"qr": qr})).json()["result"] == "valid"
