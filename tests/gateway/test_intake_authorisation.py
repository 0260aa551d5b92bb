"""Issue 8, hole 3: intake is deny by default and a system speaks only for its own orgs.

Unregistered or disabled systems are refused on every channel (REST, SOAP, exchange
table, file drop); an event for an org the system is not registered for is rejected per
item; a revoked token is refused at once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomysql
import httpx
import pytest

from gateway.adapters.intake.exchange_table import ExchangeTableAdapter, exchange_table_ddl
from gateway.adapters.intake.file_drop import FileDropAdapter
from gateway.app import create_app
from gateway.clients.registry import create_legacy_client, set_status
from gateway.settings import ExchangeTableSource, FileDropSource
from services.identity import clients
from services.identity.clients import ClientSpec
from services.runtime.auth import TokenIntrospector
from tests.gateway.conftest import MARIADB, Gateway, gateway_settings, mysql_dsn, register
from tests.identity.support import ISSUER as IDENTITY_ISSUER
from tests.identity.support import Env, identity_env
from tests.peers.county_system import (
    COUNTIES,
    REST_PATH,
    CountySystem,
    RestPusher,
    SoapPusher,
    drop_file,
    insert_exchange_rows,
    parse_soap_results,
    soap_fault,
    xml_file_bytes,
)
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer

HOME, OTHER = COUNTIES[0], COUNTIES[1]


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _foreign_mix(seed: int) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """Own events, one of another county (its 实施编码's body and handler are foreign) and
    one of the home county whose handler claims the other county's bureau."""
    own = CountySystem(HOME, seed=seed).case()[:2]
    foreign_body = {**CountySystem(OTHER, seed=seed).case()[0], "event_id": f"F{seed}-body"}
    foreign_handler = {**CountySystem(HOME, seed=seed + 1000).case()[0], "event_id": f"F{seed}-h"}
    foreign_handler["handler"] = {**foreign_handler["handler"], "org_uscc": OTHER.bureau_uscc}
    return own, foreign_body, foreign_handler


# --- REST ---


async def test_rest_refuses_unregistered_and_disabled_clients(
    gateway: Gateway, issuer: TestIssuer
) -> None:
    events = CountySystem(HOME, seed=801).case()
    stranger = RestPusher(gateway.client, issuer.client(_id("stranger"), "cases:push"))
    before = await gateway.outbox_count()
    refused = await stranger.push(events)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith("/client-not-registered")
    assert await gateway.outbox_count() == before

    client_id = await register(gateway.hub, _id("county"), HOME, channels=("file",))
    wrong_channel = await RestPusher(gateway.client, issuer.client(client_id, "cases:push")).push(
        events
    )
    assert wrong_channel.status_code == 403
    assert wrong_channel.json()["type"].endswith("/channel-not-allowed")

    client_id = await register(gateway.hub, _id("county"), HOME)
    pusher = RestPusher(gateway.client, issuer.client(client_id, "cases:push"))
    await set_status(gateway.hub.db, client_id, "disabled")
    disabled = await pusher.push(events)
    assert disabled.status_code == 403 and disabled.json()["type"].endswith("/client-disabled")
    await set_status(gateway.hub.db, client_id, "active")
    assert (await pusher.push(events)).json()["accepted"] == len(events)


async def test_rest_rejects_events_of_foreign_orgs_per_item(
    gateway: Gateway, issuer: TestIssuer
) -> None:
    client_id = await register(gateway.hub, _id("county"), HOME)
    pusher = RestPusher(gateway.client, issuer.client(client_id, "cases:push"))
    own, foreign_body, foreign_handler = _foreign_mix(802)
    response = await pusher.push([own[0], foreign_body, foreign_handler, own[1]])
    assert response.status_code == 202, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected", "accepted"]
    paths = {e["path"]: e["code"] for e in results[1]["errors"]}
    assert paths == {
        "implementation_code": "org-not-allowed",
        "handler.org_uscc": "org-not-allowed",
    }
    assert [(e["path"], e["code"]) for e in results[2]["errors"]] == [
        ("handler.org_uscc", "org-not-allowed")
    ]
    mine = [
        r["payload"]["event_id"]
        for r in await gateway.outbox_rows()
        if r["payload"]["source_system"] == client_id
    ]
    assert sorted(mine) == sorted(e["event_id"] for e in own)


# --- SOAP ---


async def test_soap_refuses_unknown_and_disabled_systems_and_foreign_orgs(
    gateway: Gateway,
) -> None:
    creds = await create_legacy_client(
        gateway.hub.db, gateway.hub.settings, name="浈江区行政审批系统", orgs=[HOME.bureau_uscc]
    )
    pusher = SoapPusher(gateway.client, creds.app_key, creds.secret)
    own, foreign_body, foreign_handler = _foreign_mix(803)
    answer = await pusher.push([own[0], foreign_body, foreign_handler])
    assert answer.status_code == 200, answer.text
    results = parse_soap_results(answer.content)
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected"]
    assert {e["code"] for e in results[1]["errors"] + results[2]["errors"]} == {"org-not-allowed"}

    unknown = SoapPusher(gateway.client, "ak" + uuid.uuid4().hex, creds.secret)
    refused = await unknown.push(own)
    assert refused.status_code == 401 and soap_fault(refused.content)["code"] == "unknown-app-key"
    await set_status(gateway.hub.db, creds.client_id, "disabled")
    disabled = await pusher.push(own)
    assert disabled.status_code == 403
    assert soap_fault(disabled.content)["code"] == "client-disabled"


# --- exchange table and file drop: not read at all while refused ---


@pytest.fixture
async def department(mariadb_database: str) -> AsyncIterator[tuple[aiomysql.Connection, str]]:
    conn = await aiomysql.connect(**MARIADB, db=mariadb_database, charset="utf8mb4")
    table = f"exchange_{uuid.uuid4().hex[:8]}"
    async with conn.cursor() as cur:
        await cur.execute(exchange_table_ddl(table))
    await conn.commit()
    yield conn, table
    conn.close()


async def _statuses(conn: aiomysql.Connection, table: str) -> list[str]:
    await conn.commit()
    async with conn.cursor() as cur:
        await cur.execute(f"SELECT hub_status FROM {table} ORDER BY id")
        return [row[0] for row in await cur.fetchall()]


async def test_exchange_table_of_an_unregistered_or_disabled_client_is_not_read(
    gateway: Gateway,
    department: tuple[aiomysql.Connection, str],
    mariadb_database: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    conn, table = department
    client_id = _id("dept")
    source = ExchangeTableSource(client_id=client_id, dsn=mysql_dsn(mariadb_database), table=table)
    own, foreign_body, _ = _foreign_mix(804)
    await insert_exchange_rows(conn, table, [*own, foreign_body])
    adapter = ExchangeTableAdapter(gateway.hub, source)
    try:
        with caplog.at_level(logging.ERROR, logger="hub.gateway.intake.exchange"):
            assert await adapter.poll_once() == 0
            assert await adapter.poll_once() == 0
        assert adapter.status == "refused: client-not-registered"
        logged = [r for r in caplog.records if "client-not-registered" in r.getMessage()]
        assert len(logged) == 1  # once per change of status, not every poll
        assert await _statuses(conn, table) == ["new"] * 3  # not even claimed

        await register(gateway.hub, client_id, HOME, channels=("exchange-table",))
        await set_status(gateway.hub.db, client_id, "disabled")
        assert await adapter.poll_once() == 0
        assert adapter.status == "refused: client-disabled"
        assert await _statuses(conn, table) == ["new"] * 3

        await set_status(gateway.hub.db, client_id, "active")
        assert await adapter.poll_once() == 3
        assert adapter.status == "active"
        # The row of the other county's 实施编码 is rejected per item.
        assert await _statuses(conn, table) == ["accepted", "accepted", "rejected"]
        async with conn.cursor() as cur:
            await cur.execute(f"SELECT hub_message FROM {table} ORDER BY id DESC LIMIT 1")
            (message,) = await cur.fetchone()
        assert "implementation_code" in message and "not an org" in message
    finally:
        await adapter.close()


async def test_file_drop_of_an_unregistered_or_disabled_client_is_not_read(
    gateway: Gateway, tmp_path: Path
) -> None:
    client_id = _id("files")
    adapter = FileDropAdapter(
        gateway.hub,
        FileDropSource(client_id=client_id, directory=str(tmp_path), settle_seconds=0.1),
    )
    own, foreign_body, _ = _foreign_mix(805)
    drop_file(tmp_path, "batch.xml", xml_file_bytes([*own, foreign_body]))
    assert await adapter.poll_once() == 0
    assert adapter.status == "refused: client-not-registered"
    assert (tmp_path / "batch.xml").exists() and not (tmp_path / "done").exists()

    await register(gateway.hub, client_id, HOME, channels=("rest",))
    assert await adapter.poll_once() == 0
    assert adapter.status == "refused: channel-not-allowed"
    assert (tmp_path / "batch.xml").exists()

    client_id2 = await register(gateway.hub, _id("files"), HOME, channels=("file",))
    adapter = FileDropAdapter(
        gateway.hub,
        FileDropSource(client_id=client_id2, directory=str(tmp_path), settle_seconds=0.1),
    )
    await set_status(gateway.hub.db, client_id2, "disabled")
    assert await adapter.poll_once() == 0 and adapter.status == "refused: client-disabled"
    await set_status(gateway.hub.db, client_id2, "active")
    assert await adapter.poll_once() == 1
    report = (tmp_path / "done" / "batch.xml.report.json").read_text(encoding="utf-8")
    assert '"org-not-allowed"' in report
    assert '"accepted": 2' in report and '"rejected": 1' in report


# --- a revoked token, with the real identity service ---


@pytest.fixture(scope="module")
async def identity(pg: DatabaseFactory) -> AsyncIterator[Env]:
    url = await pg.create("gateway_identity")
    async with identity_env(url) as env:
        await ensure_gateway_client(env)
        async with env.core.db.transaction() as session:
            _, secret = await clients.create_client(
                session,
                ClientSpec(
                    client_id="county-revoked",
                    name="乐昌市审批系统",
                    grant_types=["client_credentials"],
                    scopes=["cases:push"],
                ),
            )
            env.secrets["county-revoked"] = secret or ""
        yield env


async def ensure_gateway_client(env: Env) -> None:
    """The gateway's own client at identity, allowed to introspect any token."""
    async with env.core.db.transaction() as session:
        _, secret = await clients.create_client(
            session,
            ClientSpec(
                client_id="hub-gateway",
                name="网关",
                grant_types=["client_credentials"],
                scopes=[],
                can_introspect=True,
            ),
        )
    env.secrets["hub-gateway"] = secret or ""


def identity_gateway_settings(gateway_url: str, env: Env, issuer: TestIssuer) -> Any:
    import json

    return gateway_settings(
        gateway_url,
        issuer,
        auth_jwks=json.dumps(env.core.keys.jwks),
        auth_issuer=IDENTITY_ISSUER,
    )


def introspect_at_identity(app: Any, env: Env, cache: float = 0.0) -> httpx.AsyncClient:
    http = httpx.AsyncClient(transport=env.transport())
    app.state.hub.extras["token_introspector"] = TokenIntrospector(
        url=f"{IDENTITY_ISSUER}/introspect",
        client_id="hub-gateway",
        client_secret=env.secrets["hub-gateway"],
        cache_seconds=cache,
        http=http,
    )
    return http


async def test_a_revoked_token_is_refused_at_intake(
    gateway_url: str, issuer: TestIssuer, identity: Env
) -> None:
    app = create_app(identity_gateway_settings(gateway_url, identity, issuer))
    http = introspect_at_identity(app, identity)
    try:
        async with serve(app) as client:
            await register(app.state.hub, "county-revoked", COUNTIES[3])
            token = (
                await identity.http.post(
                    f"{IDENTITY_ISSUER}/token",
                    auth=("county-revoked", identity.secrets["county-revoked"]),
                    data={"grant_type": "client_credentials", "scope": "cases:push"},
                )
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            events = CountySystem(COUNTIES[3], seed=806).case()
            first = await client.post(REST_PATH, json={"events": events[:1]}, headers=auth)
            assert first.status_code == 202, first.text
            revoked = await identity.http.post(
                f"{IDENTITY_ISSUER}/revoke",
                auth=("county-revoked", identity.secrets["county-revoked"]),
                data={"token": token, "token_type_hint": "access_token"},
            )
            assert revoked.status_code == 200, revoked.text
            refused = await client.post(REST_PATH, json={"events": events[1:]}, headers=auth)
            assert refused.status_code == 401, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert "revoked" in refused.json()["detail"]
    finally:
        await http.aclose()
