"""REST/JSON batch intake: per-item results, durability before 202, idempotency, no 500s."""

from __future__ import annotations

import json
import random
import uuid

from sqlalchemy import select

from gateway.clients.registry import set_status
from gateway.store import exchange_log
from gateway.store.tables import ExchangeLogEntry
from tests.gateway.conftest import Gateway, register
from tests.peers.county_system import COUNTIES, REST_PATH, CountySystem, RestPusher, malformed
from tests.support.tokens import TestIssuer, bearer


def _client_id() -> str:
    return f"county-{uuid.uuid4().hex[:8]}"


async def _pusher(gateway: Gateway, issuer: TestIssuer, client_id: str) -> RestPusher:
    """A registered system that reports for every test county."""
    await register(gateway.hub, client_id, *COUNTIES)
    return RestPusher(gateway.client, issuer.client(client_id, "cases:push"))


async def test_batch_is_accepted_and_durable_in_the_outbox_before_202(
    gateway: Gateway, issuer: TestIssuer
) -> None:
    client_id = _client_id()
    events = CountySystem(COUNTIES[0], seed=11).stream(4)
    response = await (await _pusher(gateway, issuer, client_id)).push(events)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == len(events) and body["rejected"] == 0
    assert [r["status"] for r in body["results"]] == ["accepted"] * len(events)
    assert [r["event_id"] for r in body["results"]] == [e["event_id"] for e in events]
    # Committed before the answer: the outbox already holds every event, keyed by 办件编号.
    for event in events:
        rows = await gateway.outbox_rows(subject=event["case_no"])
        mine = [r for r in rows if r["payload"]["event_id"] == event["event_id"]]
        assert len(mine) == 1
        assert mine[0]["key"] == event["case_no"]
        assert mine[0]["event_type"] == "hub.case.event.received"
        assert mine[0]["topic"] == "hub.cases"
        assert mine[0]["payload"]["source_system"] == client_id
        assert mine[0]["payload"]["channel"] == "rest"


async def test_duplicates_are_reported_and_not_published_again(
    gateway: Gateway, issuer: TestIssuer
) -> None:
    pusher = await _pusher(gateway, issuer, _client_id())
    events = CountySystem(COUNTIES[1], seed=12).stream(2)
    first = await pusher.push(events)
    assert first.json()["accepted"] == len(events)
    before = await gateway.outbox_count()
    changed = dict(events[0], detail={"changed": True})
    again = await pusher.push([*events, events[0], changed])
    body = again.json()
    assert again.status_code == 202
    assert body["accepted"] == 0 and body["duplicate"] == len(events) + 2
    assert body["results"][-1]["note"].startswith("content differs")
    assert await gateway.outbox_count() == before
    # The same event id from ANOTHER source system is a different event.
    other = await (await _pusher(gateway, issuer, _client_id())).push(events[:1])
    assert other.json()["accepted"] == 1


async def test_bad_items_never_sink_the_good_ones(gateway: Gateway, issuer: TestIssuer) -> None:
    system = CountySystem(COUNTIES[2], seed=13)
    good = system.stream(2)
    bad = malformed(system.case()[0])
    mixed = [good[0], *(item for _, item in bad), *good[1:]]
    response = await (await _pusher(gateway, issuer, _client_id())).push(mixed)
    assert response.status_code == 202
    results = response.json()["results"]
    assert results[0]["status"] == "accepted"
    assert all(r["status"] == "accepted" for r in results[1 + len(bad) :])
    for (path, _), result in zip(bad, results[1 : 1 + len(bad)], strict=True):
        assert result["status"] == "rejected"
        assert path in {e["path"] for e in result["errors"]}
        assert all(e["message"] for e in result["errors"])


async def test_token_and_scope_are_required(gateway: Gateway, issuer: TestIssuer) -> None:
    body = {"events": CountySystem(COUNTIES[0], seed=14).case()}
    assert (await gateway.client.post(REST_PATH, json=body)).status_code == 401
    wrong = bearer(issuer.client("county-x", "cases:read"))
    refused = await gateway.client.post(REST_PATH, json=body, headers=wrong)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    citizen = bearer(issuer.citizen("abc"))
    assert (await gateway.client.post(REST_PATH, json=body, headers=citizen)).status_code == 403


async def test_registry_can_disable_a_client(gateway: Gateway, issuer: TestIssuer) -> None:
    client_id = _client_id()
    await register(gateway.hub, client_id, COUNTIES[3])
    pusher = RestPusher(gateway.client, issuer.client(client_id, "cases:push"))
    assert (await pusher.push(CountySystem(COUNTIES[3], seed=15).case())).status_code == 202
    await set_status(gateway.hub.db, client_id, "disabled")
    refused = await pusher.push(CountySystem(COUNTIES[3], seed=16).case())
    assert refused.status_code == 403 and refused.json()["type"].endswith("client-disabled")


async def test_garbage_bodies_get_problems_never_500(gateway: Gateway, issuer: TestIssuer) -> None:
    headers = {
        **bearer(issuer.client(await register(gateway.hub, _client_id(), *COUNTIES), "cases:push")),
        "Content-Type": "application/json",
    }
    cases = {
        b"{not json": 400,
        b"\xff\xfe\x00": 400,
        b"[" * 100_000: 400,
        b"[]": 422,
        b'{"events": {}}': 422,
        b'{"events": []}': 422,
        b'"events"': 422,
        b"null": 422,
    }
    for body, status in cases.items():
        response = await gateway.client.post(REST_PATH, content=body, headers=headers)
        assert response.status_code == status, (body[:20], response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    too_many = {"events": [{"event_id": str(i)} for i in range(1001)]}
    response = await gateway.client.post(REST_PATH, json=too_many, headers=headers)
    assert response.status_code == 422 and response.json()["max_events"] == 1000
    rng = random.Random(3)
    weird = [None, 1, 2.5, "x", [], {}, {"event_id": ["a"]}, {"case_no": 12345}, True]
    weird += [{"stage": rng.random(), "occurred_at": {"x": 1}, "seq": -1, "applicant": []}]
    response = await gateway.client.post(REST_PATH, json={"events": weird}, headers=headers)
    assert response.status_code == 202
    assert response.json()["rejected"] == len(weird)
    huge = json.dumps({"events": [{"detail": "x" * 3_000_000}]})
    response = await gateway.client.post(REST_PATH, content=huge, headers=headers)
    assert response.status_code == 413


async def test_idempotency_key_replays_the_answer_and_refuses_a_different_body(
    gateway: Gateway, issuer: TestIssuer
) -> None:
    pusher = await _pusher(gateway, issuer, _client_id())
    events = CountySystem(COUNTIES[0], seed=17).stream(2)
    key = uuid.uuid4().hex
    first = await pusher.push(events, idempotency_key=key)
    before = await gateway.outbox_count()
    second = await pusher.push(events, idempotency_key=key)
    assert second.status_code == 202
    assert second.json() == first.json()  # the same answer: "accepted", not "duplicate"
    assert second.headers["Idempotency-Replayed"] == "true"
    assert await gateway.outbox_count() == before
    other = await pusher.push(events[:1], idempotency_key=key)
    assert other.status_code == 422
    assert other.json()["type"].endswith("idempotency-key-reused")


async def test_every_call_is_in_the_exchange_log_without_pii(
    gateway: Gateway, issuer: TestIssuer
) -> None:
    client_id = _client_id()
    events = CountySystem(COUNTIES[1], seed=18).stream(1)
    bad = malformed(events[0])[0][1]
    response = await (await _pusher(gateway, issuer, client_id)).push([*events, bad])
    assert response.status_code == 202
    async with gateway.hub.db.sessionmaker() as session:
        entries = (
            (
                await session.execute(
                    select(ExchangeLogEntry).where(ExchangeLogEntry.client_id == client_id)
                )
            )
            .scalars()
            .all()
        )
        verdict = await exchange_log.verify_chain(session)
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.accepted, entry.duplicate, entry.rejected) == (len(events), 0, 1)
    assert entry.result == "partial" and entry.channel == "rest"
    assert len(entry.body_digest) == 64 and entry.request_id == response.headers["x-request-id"]
    text = json.dumps(
        [getattr(entry, c.name) for c in ExchangeLogEntry.__table__.columns], default=str
    )
    assert events[0]["applicant"]["id_no"] not in text
    assert verdict.ok and verdict.entries >= 1
