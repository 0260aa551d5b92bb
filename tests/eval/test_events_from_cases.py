"""The real contract between two services: the cases app concludes one 办件 (denied) and
refuses another (不予受理) and tells it through the broker; the eval app invites exactly
their applicant, who finds both invitations and rates one."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid

from sqlalchemy import func, select

from hub.broker import LocalBroker
from services.eval.store.tables import InvitationRow
from tests.cases.factory import event_data, matter_data, natural
from tests.cases.support import cases_app
from tests.certs.harness import citizen_id
from tests.eval.harness import eval_app
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer, bearer

ORG = "11440200MB2C12345W"


async def test_concluded_and_refused_cases_become_invitations(
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
    ev = await eval_app(pg, issuer, **kafka)
    code = f"{ORG}{random.randrange(10**12, 10**13)}"
    concluded, refused = f"{code}202603020001", f"{code}202603020002"
    person = natural(citizen_id(7), "王小明")
    async with serve(cases.app), serve(ev.app) as client:
        await cases.matter(matter_data(code))
        flows = {
            concluded: ["submitted", "accepted", "decided", "concluded"],
            refused: ["submitted", "not_accepted"],
        }
        for number, stages in flows.items():
            for seq, stage in enumerate(stages, start=1):
                # today (the rating window runs from 办结), hours before now
                when = dt.datetime.now(dt.UTC) - dt.timedelta(hours=5 - seq)
                await cases.receive(
                    event_data(
                        number,
                        stage,
                        when,
                        seq=seq,
                        event_id=uuid.uuid4().hex,
                        applicant=person if seq == 1 else None,
                        detail={"reason": "材料不齐全"} if stage == "not_accepted" else None,
                        result={"decision": "denied"}
                        if stage in ("decided", "concluded")
                        else None,
                    ),
                    now=when,
                )
        [fact] = await cases.facts("hub.case.concluded")
        id_ref = fact["applicant"]["id_ref"]
        count = 0
        deadline = asyncio.get_running_loop().time() + 60
        while count < 2 and asyncio.get_running_loop().time() < deadline:
            async with ev.hub.db.sessionmaker() as s:
                count = await s.scalar(select(func.count()).select_from(InvitationRow)) or 0
            await asyncio.sleep(0.3)
        assert count == 2, "the invitations did not arrive"
        me = bearer(issuer.citizen(id_ref))
        items = (await client.get("/v1/me/invitations", headers=me)).json()["items"]
        assert {(i["case_no"], i["outcome"]) for i in items} == {
            (concluded, "denied"),
            (refused, "not_accepted"),
        }
        other = bearer(issuer.citizen(uuid.uuid4().hex))
        assert (await client.get("/v1/me/invitations", headers=other)).json()["items"] == []
        body = {"case_no": refused, "channel": "h5", "level": 4}
        assert (await client.post("/v1/evaluations", json=body, headers=me)).status_code == 201
        assert (await client.post("/v1/evaluations", json=body, headers=other)).status_code == 404
