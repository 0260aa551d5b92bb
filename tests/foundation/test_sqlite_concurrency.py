"""The embedded default (SQLite) under concurrent writers: parallel logins and token
requests while the outbox relay publishes their events. Write transactions start with
BEGIN IMMEDIATE, so no request fails with "database is locked" (a deferred transaction
that reads and then writes cannot wait for the lock: SQLite refuses it at once)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from hub.broker import LocalBroker
from services.identity.store.tables import IssuedToken
from services.runtime.messaging.outbox import pending_count
from tests.identity.support import (
    CITIZEN_ID,
    CITIZEN_PASSWORD,
    ISSUER,
    browser,
    identity_env,
    user_tokens,
)

LOGINS = 24
CLIENT_TOKENS = 60


async def test_parallel_logins_and_token_requests_on_sqlite_never_hit_a_locked_database(
    tmp_path: Path, broker: LocalBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    url = f"sqlite+aiosqlite:///{tmp_path / 'identity.db'}"
    settings = {"kafka_enabled": True, "kafka_bootstrap_servers": broker.bootstrap}
    async with identity_env(url, settings=settings) as env:

        async def login() -> dict[str, object]:
            async with browser(env) as b:
                return await user_tokens(env, b, CITIZEN_ID, CITIZEN_PASSWORD)

        async def client_token() -> httpx.Response:
            async with browser(env) as b:
                return await b.post(
                    f"{ISSUER}/token",
                    auth=("county", env.secrets["county"]),
                    data={"grant_type": "client_credentials", "scope": "cases:push"},
                )

        results = await asyncio.gather(
            *(login() for _ in range(LOGINS)),
            *(client_token() for _ in range(CLIENT_TOKENS)),
            return_exceptions=True,
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        assert failures == [], failures[:3]
        answers = [r for r in results if isinstance(r, httpx.Response)]
        assert [r.status_code for r in answers] == [200] * CLIENT_TOKENS
        assert all("access_token" in r for r in results if isinstance(r, dict))

        db = env.app.state.hub.db

        async def drained() -> bool:
            async with db.sessionmaker() as s:
                return await pending_count(s) == 0

        for _ in range(300):  # the relay published every login event meanwhile
            if await drained():
                break
            await asyncio.sleep(0.1)
        assert await drained()
        async with db.sessionmaker() as s:
            tokens = await s.scalar(select(func.count()).select_from(IssuedToken))
        assert tokens == LOGINS + CLIENT_TOKENS
    assert "database is locked" not in caplog.text
    assert "Internal Server Error" not in caplog.text


PUSHES = 30


async def test_parallel_intake_on_sqlite_with_the_relay_running_never_hits_a_locked_database(
    tmp_path: Path, broker: LocalBroker, caplog: pytest.LogCaptureFixture
) -> None:
    from gateway.app import create_app as create_gateway
    from tests.gateway.conftest import gateway_settings, register
    from tests.peers.county_system import COUNTIES, CountySystem, RestPusher
    from tests.support.apps import migrate, serve
    from tests.support.tokens import TestIssuer

    caplog.set_level(logging.WARNING)
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    migrate("gateway", url)
    issuer = TestIssuer()
    settings = gateway_settings(
        url, issuer, kafka_enabled=True, kafka_bootstrap_servers=broker.bootstrap
    )
    app = create_gateway(settings)
    # Intake admits registered systems with active tokens only (the issuer answers).
    app.state.hub.extras["token_introspector"] = issuer.introspector()
    async with serve(app) as client:
        await register(app.state.hub, "county-sqlite-load", COUNTIES[0])
        pusher = RestPusher(client, issuer.client("county-sqlite-load", "cases:push"))
        county = CountySystem(COUNTIES[0], seed=77)
        batches = [county.stream(3) for _ in range(PUSHES)]
        answers = await asyncio.gather(*(pusher.push(b) for b in batches))
        assert [a.status_code for a in answers] == [202] * PUSHES
        assert sum(a.json()["accepted"] for a in answers) == sum(len(b) for b in batches)
        db = app.state.hub.db
        for _ in range(300):
            async with db.sessionmaker() as s:
                if await pending_count(s) == 0:
                    break
            await asyncio.sleep(0.1)
        async with db.sessionmaker() as s:
            assert await pending_count(s) == 0
    assert "database is locked" not in caplog.text
