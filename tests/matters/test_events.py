"""hub.matter.published / withdrawn: written to the outbox in the publishing transaction and
delivered through the real broker with the time limits the cases service needs."""

from __future__ import annotations

import json
from typing import Any

from aiokafka import AIOKafkaConsumer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from hub.broker import LocalBroker
from services.matters.app import create_app
from services.matters.demo_catalog import DEMO_FOOD_CODE, food_licence_content
from tests.matters.conftest import Staff, publish_new, settings_for
from tests.support.apps import migrate, serve
from tests.support.tokens import TestIssuer


async def _outbox(url: str) -> list[tuple[str, str, dict[str, Any]]]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT event_type, key, payload FROM outbox ORDER BY id"))
        ).all()
    await engine.dispose()
    return [(t, k, p if isinstance(p, dict) else json.loads(p)) for t, k, p in rows]


async def test_publish_writes_the_event_in_the_same_transaction(
    client: Any, staff: Staff, matters_url: str
) -> None:
    content = food_licence_content()
    incomplete = {**content, "acceptance_conditions": None}
    r = await client.post(
        "/v1/matters",
        json={"implementation_code": DEMO_FOOD_CODE, "content": incomplete},
        headers=staff.editor(),
    )
    for action, who in (("submit", staff.editor), ("approve", staff.approver)):
        await client.post(f"/v1/matters/{DEMO_FOOD_CODE}/versions/1/{action}", headers=who())
    refused = await client.post(
        f"/v1/matters/{DEMO_FOOD_CODE}/versions/1/publish", headers=staff.approver()
    )
    assert refused.status_code == 422
    assert await _outbox(matters_url) == []  # a refused publish leaves no event behind
    r = await client.patch(
        f"/v1/matters/{DEMO_FOOD_CODE}",
        json={"changes": {"acceptance_conditions": "材料齐全"}},
        headers=staff.editor(),
    )
    v = r.json()["version"]
    for action, who in (
        ("submit", staff.editor),
        ("approve", staff.approver),
        ("publish", staff.approver),
    ):
        assert (
            await client.post(f"/v1/matters/{DEMO_FOOD_CODE}/versions/{v}/{action}", headers=who())
        ).status_code == 200
    [(event_type, key, data)] = await _outbox(matters_url)
    assert (event_type, key) == ("hub.matter.published", DEMO_FOOD_CODE)
    assert data["version"] == v and data["status"] == "published"
    assert data["statutory_limit_days"] == 20 and data["promised_limit_days"] == 10
    assert data["department"] == {"name": "韶关市市场监督管理局", "uscc": DEMO_FOOD_CODE[:18]}
    assert data["division_code"] == "440200"
    assert data["result"]["certificate_type"] == DEMO_FOOD_CODE[:18] + "001"
    assert data["special_procedures"] == ["现场核查"]
    assert data["special_procedure_limit_days"] == 10  # 现场核查 10 working days


async def test_events_reach_the_broker(
    pg: Any, broker: LocalBroker, issuer: TestIssuer, staff: Staff
) -> None:
    url = await pg.create("matters-broker")
    migrate("matters", url)
    settings = settings_for(url, issuer).model_copy(
        update={"kafka_enabled": True, "kafka_bootstrap_servers": broker.bootstrap}
    )
    async with serve(create_app(settings)) as client:
        await publish_new(client, staff, DEMO_FOOD_CODE, food_licence_content())
        r = await client.post(
            f"/v1/matters/{DEMO_FOOD_CODE}/withdraw",
            json={"reason": "测试"},
            headers=staff.approver(),
        )
        assert r.status_code == 200
        # The session broker is shared with other tests that publish the same demo
        # code: follow exactly this database's events, by id, in outbox order.
        ids = await _outbox_event_ids(url, DEMO_FOOD_CODE)
        assert len(ids) == 2
        consumer = AIOKafkaConsumer(
            "hub.matters",
            bootstrap_servers=broker.bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
            enable_auto_commit=False,
        )
        await consumer.start()
        found: list[Any] = []
        try:
            for _ in range(120):
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    found.extend(r for r in records if dict(r.headers)["ce_id"].decode() in ids)
                if len(found) >= 2:
                    break
        finally:
            await consumer.stop()
    assert [dict(r.headers)["ce_id"].decode() for r in found] == ids
    types = [dict(r.headers)["ce_type"].decode() for r in found]
    assert types == ["hub.matter.published", "hub.matter.withdrawn"]
    payload = json.loads(found[0].value)
    assert payload["implementation_code"] == DEMO_FOOD_CODE
    assert payload["promised_limit_days"] == 10


async def _outbox_event_ids(url: str, key: str) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch("SELECT event_id FROM outbox WHERE key = $1 ORDER BY id", key)
    finally:
        await conn.close()
    return [r["event_id"] for r in rows]
