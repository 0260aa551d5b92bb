"""``Idempotency-Key`` on POSTs of external systems (client-credentials tokens), stored in
the gateway database (PostgreSQL) or in the real Redis: replay, 422 for another body with
the same key, 409 while the first call runs, per-client keys, 5xx not kept, intake too."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import redis
from sqlalchemy import func, select

from gateway.store.idempotency import DatabaseIdempotencyStore, StoredCall
from gateway.store.retention import register_retention
from gateway.store.tables import IdempotencyRecord
from services.runtime.db import Database
from services.runtime.retention import Retention
from services.runtime.settings import HubSettings
from tests.gateway.policy_support import (
    Clients,
    UpstreamState,
    gateway_clients,
    policy_settings,
    run_upstream,
)
from tests.support.apps import migrate
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer

pytestmark = pytest.mark.asyncio(loop_scope="module")
REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, UpstreamState]]:
    with run_upstream() as up:
        yield up


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture(scope="module")
async def db_url(pg: DatabaseFactory) -> str:
    url = await pg.create("fd_idem")
    migrate("gateway", url)
    return url


@pytest_asyncio.fixture(params=["database", "redis"], loop_scope="module")
async def gateway(
    request: pytest.FixtureRequest,
    db_url: str,
    issuer: TestIssuer,
    upstream: tuple[str, UpstreamState],
) -> AsyncIterator[tuple[Any, Clients]]:
    prefix = f"test:{uuid.uuid4().hex}:"
    extra = {"redis_url": REDIS, "redis_key_prefix": prefix} if request.param == "redis" else {}
    s = policy_settings(db_url, issuer, {"up": upstream[0]}, **extra)
    async with gateway_clients(s) as pair:
        # Intake asks whether a token is still active: the issuer answers (in process).
        pair[0].state.hub.extras["token_introspector"] = issuer.introspector()
        yield pair
    if request.param == "redis":
        r = redis.Redis.from_url(REDIS)
        for key in r.scan_iter(match=prefix + "*"):
            r.delete(key)
        r.close()


def bearer(issuer: TestIssuer, client: str) -> dict[str, str]:
    token = issuer.token(sub=client, sub_type="client", client_id=client, scope="cases:push")
    return {"authorization": f"Bearer {token}"}


def key() -> str:
    return f"k-{uuid.uuid4().hex}"


async def test_replay_returns_the_stored_answer(
    gateway: tuple[Any, Clients], issuer: TestIssuer, upstream: tuple[str, UpstreamState]
) -> None:
    _app, clients = gateway
    gw, state = clients(), upstream[1]
    headers = {**bearer(issuer, "county-a"), "idempotency-key": key()}
    first = await gw.post("/api/up/echo", json={"n": 1}, headers=headers)
    assert first.status_code == 201 and "idempotency-replayed" not in first.headers
    calls = state.calls
    again = await gw.post("/api/up/echo", json={"n": 1}, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotency-replayed"] == "true"
    assert again.headers["content-type"] == "application/json"
    assert again.content == first.content
    assert state.calls == calls  # the upstream was not called again
    # Same key, another body: 422.
    other = await gw.post("/api/up/echo", json={"n": 2}, headers=headers)
    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-key-reused")
    # Keys belong to a client: another client's same key is a new call.
    theirs = {**bearer(issuer, "county-b"), "idempotency-key": headers["idempotency-key"]}
    r = await gw.post("/api/up/echo", json={"n": 1}, headers=theirs)
    assert r.status_code == 201 and "idempotency-replayed" not in r.headers
    assert state.calls == calls + 1


async def test_a_duplicate_while_the_first_runs_is_409(
    gateway: tuple[Any, Clients], issuer: TestIssuer, upstream: tuple[str, UpstreamState]
) -> None:
    _app, clients = gateway
    gw, state = clients(), upstream[1]
    headers = {**bearer(issuer, "county-a"), "idempotency-key": key()}
    state.delay = 1.0
    try:
        first = asyncio.create_task(gw.post("/api/up/echo", json={"n": 1}, headers=headers))
        await asyncio.sleep(0.4)
        dup = await gw.post("/api/up/echo", json={"n": 1}, headers=headers)
        assert dup.status_code == 409
        assert dup.headers["content-type"] == "application/problem+json"
        assert dup.json()["type"].endswith("/idempotency-conflict")
        assert (await first).status_code == 201
    finally:
        state.delay = 0.0
    r = await gw.post("/api/up/echo", json={"n": 1}, headers=headers)
    assert r.headers["idempotency-replayed"] == "true"


async def test_server_errors_are_not_kept(
    gateway: tuple[Any, Clients], issuer: TestIssuer, upstream: tuple[str, UpstreamState]
) -> None:
    _app, clients = gateway
    gw, state = clients(), upstream[1]
    headers = {**bearer(issuer, "county-a"), "idempotency-key": key()}
    calls = state.calls
    for _ in range(2):
        r = await gw.post("/api/up/status/500", json={}, headers=headers)
        assert r.status_code == 500 and "idempotency-replayed" not in r.headers
    assert state.calls == calls + 2
    # A 4xx is an answer like any other: kept and replayed.
    headers["idempotency-key"] = key()
    await gw.post("/api/up/status/409", json={}, headers=headers)
    r = await gw.post("/api/up/status/409", json={}, headers=headers)
    assert r.status_code == 409 and r.headers["idempotency-replayed"] == "true"
    assert state.calls == calls + 3


async def test_only_external_systems_and_well_formed_keys(
    gateway: tuple[Any, Clients], issuer: TestIssuer, upstream: tuple[str, UpstreamState]
) -> None:
    _app, clients = gateway
    gw, state = clients(), upstream[1]
    bad = await gw.post(
        "/api/up/echo",
        json={},
        headers={**bearer(issuer, "county-a"), "idempotency-key": "has spaces"},
    )
    assert bad.status_code == 400 and bad.json()["type"].endswith("/bad-idempotency-key")
    # A citizen's token (not an external system) or a forged client token: passed through.
    citizen = {"authorization": f"Bearer {issuer.citizen('a' * 64)}", "idempotency-key": key()}
    forged = {
        "authorization": "Bearer "
        + TestIssuer(kid="test-key-1").token(
            sub="county-a", sub_type="client", client_id="county-a"
        ),
        "idempotency-key": key(),
    }
    for headers in (citizen, forged):
        calls = state.calls
        for _ in range(2):
            r = await gw.post("/api/up/echo", json={}, headers=headers)
            assert "idempotency-replayed" not in r.headers
        assert state.calls == calls + 2


async def test_intake_posts_are_covered(gateway: tuple[Any, Clients], issuer: TestIssuer) -> None:
    _app, clients = gateway
    gw = clients()
    # An unregistered client is refused by intake; that answer is replayed like any other.
    headers = {**bearer(issuer, f"unregistered-{uuid.uuid4().hex[:6]}"), "idempotency-key": key()}
    first = await gw.post("/api/intake/v1/case-events", json={"events": []}, headers=headers)
    assert 400 <= first.status_code < 500
    again = await gw.post("/api/intake/v1/case-events", json={"events": []}, headers=headers)
    assert again.headers["idempotency-replayed"] == "true"
    assert again.status_code == first.status_code and again.content == first.content


async def test_database_records_expire(db_url: str, issuer: TestIssuer) -> None:
    db = Database(db_url)
    store = DatabaseIdempotencyStore(db)
    k = key()
    assert await store.begin("county-x", k, "d1", 30) is None
    await store.finish(
        "county-x",
        k,
        status_code=201,
        content_type="application/json",
        body=b"{}",
        ttl=timedelta(seconds=-1),
    )
    # Expired: claimed anew (a new call), then purged by the retention job.
    assert await store.begin("county-x", k, "d2", 30) is None
    await store.finish(
        "county-x", k, status_code=201, content_type=None, body=b"", ttl=timedelta(seconds=-1)
    )
    retention = Retention(db, HubSettings())
    register_retention(retention)
    assert await retention.run_until_done() >= 1
    async with db.sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(IdempotencyRecord)
            .where(IdempotencyRecord.client_id == "county-x")
        )
    assert count == 0
    await db.dispose()


async def test_database_store_on_sqlite(tmp_path: Path) -> None:
    """`make run`'s embedded default: the same claims and answers on SQLite."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    migrate("gateway", url)
    db = Database(url)
    store = DatabaseIdempotencyStore(db)
    assert await store.begin("county-s", "k1", "d1", 30) is None
    pending = await store.begin("county-s", "k1", "d1", 30)
    assert pending is not None and pending.state == "pending"
    await store.finish(
        "county-s",
        "k1",
        status_code=202,
        content_type="application/json",
        body=b'{"ok":true}',
        ttl=timedelta(hours=24),
    )
    done = await store.begin("county-s", "k1", "d1", 30)
    assert done == StoredCall("done", "d1", 202, "application/json", b'{"ok":true}')
    await store.release("county-s", "k1")  # only a pending claim is released
    assert await store.begin("county-s", "k1", "d1", 30) == done
    await db.dispose()
