"""Fixtures of the gateway intake tests: PostgreSQL gateway DB, token issuer, MariaDB."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiomysql
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from gateway.app import create_app
from gateway.clients.registry import register_client
from gateway.settings import GatewaySettings
from services.runtime.app import Hub
from services.runtime.auth import TokenIntrospector
from services.runtime.messaging.tables import outbox
from tests.peers.county_system import County
from tests.peers.introspection import IntrospectionPeer
from tests.support.apps import migrate, serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import AUDIENCE, ISSUER, TestIssuer

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


@pytest.fixture(scope="session")
def issuer() -> TestIssuer:
    return TestIssuer()


def gateway_settings(url: str, issuer: TestIssuer, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "service_name": "gateway",
        "environment": "test",
        "database_url": url,
        "kafka_enabled": False,
        "auth_jwks": issuer.jwks_json,
        "auth_issuer": ISSUER,
        "auth_audience": AUDIENCE,
        "log_json": False,
        "intake_poll_interval": 3600.0,  # tests drive the pollers by hand
    }
    values.update(overrides)
    return GatewaySettings(**values)


@dataclass
class Gateway:
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def hub(self) -> Hub:
        return self.app.state.hub  # type: ignore[no-any-return]

    async def outbox_rows(self, **where: Any) -> list[dict[str, Any]]:
        query = select(outbox).order_by(outbox.c.id)
        for column, value in where.items():
            query = query.where(outbox.c[column] == value)
        async with self.hub.db.sessionmaker() as session:
            return [dict(r._mapping) for r in (await session.execute(query)).all()]

    async def outbox_count(self) -> int:
        async with self.hub.db.sessionmaker() as session:
            return int(await session.scalar(select(func.count()).select_from(outbox)) or 0)


@pytest.fixture(scope="module")
async def gateway_url(pg: DatabaseFactory) -> str:
    url = await pg.create("gateway")
    migrate("gateway", url)
    return url


@pytest.fixture(scope="session")
def introspection_peer(issuer: TestIssuer) -> IntrospectionPeer:
    return IntrospectionPeer(issuer)


def use_introspection(app: FastAPI, peer: IntrospectionPeer) -> httpx.AsyncClient:
    """The intake route asks whether a token is still active: here, the peer (over ASGI)."""
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=peer.app))
    app.state.hub.extras["token_introspector"] = TokenIntrospector(
        url="http://introspection/introspect",
        client_id=peer.client_id,
        client_secret=peer.client_secret,
        cache_seconds=0.0,
        http=http,
    )
    return http


@pytest.fixture(scope="module")
async def gateway(
    gateway_url: str, issuer: TestIssuer, introspection_peer: IntrospectionPeer
) -> AsyncIterator[Gateway]:
    app = create_app(gateway_settings(gateway_url, issuer))
    http = use_introspection(app, introspection_peer)
    async with serve(app) as client:
        yield Gateway(app, client)
    await http.aclose()


async def register(
    hub: Hub,
    client_id: str,
    *orgs: str | County,
    channels: tuple[str, ...] = ("rest",),
) -> str:
    """Register a test system at the gateway for the given orgs (a county: its bureau, the
    implementing body of its 实施编码)."""
    usccs: list[str] = []
    for org in orgs:
        if isinstance(org, County):
            usccs += [org.bureau_uscc, *(code[:18] for code in org.matters)]
        else:
            usccs.append(org)
    await register_client(
        hub.db, client_id=client_id, name=f"测试系统 {client_id}", orgs=usccs, channels=channels
    )
    return client_id


@pytest.fixture(scope="session")
def mariadb_database() -> Iterator[str]:
    """A fresh MariaDB database for this run (the department's 前置库), dropped after."""
    import asyncio

    name = f"hubtest_{secrets.token_hex(4)}"

    async def run(sql: str) -> None:
        conn = await aiomysql.connect(**MARIADB, autocommit=True)
        try:
            async with conn.cursor() as cur:
                await cur.execute(sql)
        finally:
            conn.close()

    asyncio.run(run(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    yield name
    asyncio.run(run(f"DROP DATABASE IF EXISTS {name}"))


def mysql_dsn(database: str) -> str:
    return f"mysql://root:@127.0.0.1:3306/{database}"
