"""``hub systems onboard``: one command creates a system's credentials (identity OAuth
client, or a legacy app key) and registers it at the gateway with its orgs and channels;
the printed credentials work. And the registry migration keeps existing systems."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from gateway.app import create_app
from gateway.clients.registry import get_client
from hub.cli import app as hub_cli
from hub.registry import BY_NAME
from services.identity.store.tables import Client
from services.runtime.migrate import alembic_config, upgrade
from tests.gateway.test_intake_authorisation import (
    ensure_gateway_client,
    identity_gateway_settings,
    introspect_at_identity,
)
from tests.identity.support import ISSUER as IDENTITY_ISSUER
from tests.identity.support import Env, identity_env
from tests.peers.county_system import (
    COUNTIES,
    CountySystem,
    RestPusher,
    SoapPusher,
    parse_soap_results,
)
from tests.support.apps import migrate, serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer

ORGS = (COUNTIES[0], COUNTIES[3])


async def _onboard(*args: str, identity_url: str, gateway_url: str) -> Any:
    # The command runs its own event loop: off this test's loop, in a thread.
    return await asyncio.to_thread(
        CliRunner().invoke,
        hub_cli,
        [
            "systems",
            "onboard",
            *args,
            "--identity-database-url",
            identity_url,
            "--gateway-database-url",
            gateway_url,
        ],
    )


@pytest.fixture(scope="module")
async def databases(pg: DatabaseFactory) -> AsyncIterator[tuple[str, str]]:
    identity_url = await pg.create("onboard_identity")
    gateway_url = await pg.create("onboard_gateway")
    migrate("identity", identity_url)
    migrate("gateway", gateway_url)
    yield identity_url, gateway_url


async def _identity_clients(env: Env) -> int:
    async with env.core.db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Client)) or 0)


async def test_onboard_creates_client_and_registration_and_the_credentials_push(
    databases: tuple[str, str], issuer: TestIssuer
) -> None:
    identity_url, gateway_url = databases
    org_args = [arg for county in ORGS for arg in ("--org", county.bureau_uscc)]
    done = await _onboard(
        "--name",
        "乐昌市行政审批系统",
        *org_args,
        "--channel",
        "rest",
        "--channel",
        "file",
        identity_url=identity_url,
        gateway_url=gateway_url,
    )
    assert done.exit_code == 0, done.output
    creds = json.loads(done.output)
    assert creds["scope"] == "cases:push" and len(creds["client_secret"]) >= 32
    assert creds["orgs"] == [c.bureau_uscc for c in ORGS]
    assert creds["channels"] == ["rest", "file"]

    legacy = await _onboard(
        "--name",
        "浈江区旧审批系统",
        "--org",
        COUNTIES[0].bureau_uscc,
        "--legacy",
        "--client-id",
        "zhenjiang-legacy",
        identity_url=identity_url,
        gateway_url=gateway_url,
    )
    assert legacy.exit_code == 0, legacy.output
    legacy_creds = json.loads(legacy.output)
    assert legacy_creds["client_id"] == "zhenjiang-legacy" and legacy_creds["app_key"]

    async with identity_env(identity_url) as env:
        await ensure_gateway_client(env)
        clients_before = await _identity_clients(env)
        # Refused before anything is written: bad org, REST for a legacy system, taken id.
        for bad in (
            ["--name", "x", "--org", "123"],
            ["--name", "x", "--org", COUNTIES[0].bureau_uscc, "--legacy", "--channel", "rest"],
            ["--name", "x", "--org", COUNTIES[0].bureau_uscc, "--client-id", "zhenjiang-legacy"],
        ):
            refused = await _onboard(*bad, identity_url=identity_url, gateway_url=gateway_url)
            assert refused.exit_code == 2, (bad, refused.output)
        assert await _identity_clients(env) == clients_before

        token = await env.http.post(
            f"{IDENTITY_ISSUER}/token",
            auth=(creds["client_id"], creds["client_secret"]),
            data={"grant_type": "client_credentials", "scope": "cases:push"},
        )
        assert token.status_code == 200, token.text
        gateway = create_app(identity_gateway_settings(gateway_url, env, issuer))
        http = introspect_at_identity(gateway, env)
        try:
            async with serve(gateway) as client:
                async with gateway.state.hub.db.sessionmaker() as session:
                    row = await get_client(session, creds["client_id"])
                    assert row is not None and row.status == "active"
                    assert row.orgs == creds["orgs"] and row.channels == ["rest", "file"]
                    assert row.app_key is None and row.secret_encrypted is None
                pusher = RestPusher(client, token.json()["access_token"])
                mine = CountySystem(COUNTIES[3], seed=951).case()
                foreign = CountySystem(COUNTIES[1], seed=951).case()[:1]
                pushed = await pusher.push([*mine, *foreign])
                assert pushed.status_code == 202, pushed.text
                assert [r["status"] for r in pushed.json()["results"]] == [
                    *(["accepted"] * len(mine)),
                    "rejected",
                ]
                soap = SoapPusher(client, legacy_creds["app_key"], legacy_creds["secret"])
                answer = await soap.push(CountySystem(COUNTIES[0], seed=952).case()[:2])
                assert answer.status_code == 200, answer.text
                assert {r["status"] for r in parse_soap_results(answer.content)} == {"accepted"}
        finally:
            await http.aclose()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_registry_migration_keeps_each_systems_org(
    engine: str, pg: DatabaseFactory, tmp_path: Path
) -> None:
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
        if engine == "sqlite"
        else await pg.create("gateway_migration")
    )
    folder = BY_NAME["gateway"].migrations_dir
    org = COUNTIES[2].bureau_uscc
    db = create_async_engine(url)
    try:
        await asyncio.to_thread(upgrade, folder, url, "gateway_0002")
        async with db.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO external_clients (client_id, name, org_uscc, channels, status,"
                    " created_at, updated_at) VALUES ('old-1', '旧系统', :org, :channels,"
                    " 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"org": org, "channels": '["soap"]'},
            )
        await asyncio.to_thread(upgrade, folder, url)
        async with db.connect() as conn:
            after = (
                await conn.execute(
                    text("SELECT orgs FROM external_clients WHERE client_id = 'old-1'")
                )
            ).scalar_one()
        assert (json.loads(after) if isinstance(after, str) else after) == [org]
        await asyncio.to_thread(command.downgrade, alembic_config(folder, url), "gateway_0002")
        async with db.connect() as conn:
            back = (
                await conn.execute(
                    text("SELECT org_uscc FROM external_clients WHERE client_id = 'old-1'")
                )
            ).scalar_one()
        assert back == org
    finally:
        await db.dispose()


async def test_make_run_seeds_register_the_demo_county_and_the_gateway_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make run`: the README's demo county may push for its demo orgs, and the gateway
    (like every resource server) gets the services' introspecting client at identity,
    with the same secret across restarts."""
    import hub.runner as runner
    from hub.onboarding import DEMO_COUNTY_ID, DEMO_COUNTY_ORGS
    from services.identity.secrets import digest
    from services.identity.seed import SERVICE_CLIENT_ID
    from services.runtime.db import Database

    monkeypatch.setattr(runner, "VAR_DIR", tmp_path)
    envs = {
        name: {"HUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / (name + '.db')}"}
        for name in (*runner.SEEDS, "gateway")  # every seeded service, and the gateway
    }
    for name, env in envs.items():
        await asyncio.to_thread(migrate, name, env["HUB_DATABASE_URL"])
    lines = await asyncio.to_thread(runner.run_seeds, envs)
    assert any(DEMO_COUNTY_ID in line and DEMO_COUNTY_ORGS[0] in line for line in lines)
    identity_url = envs["identity"]["HUB_DATABASE_URL"]
    credentials = await asyncio.to_thread(runner.service_credentials, identity_url)
    assert credentials["HUB_AUTH_CLIENT_ID"] == SERVICE_CLIENT_ID
    assert (tmp_path / "service-client.secret").stat().st_mode & 0o077 == 0
    await asyncio.to_thread(runner.run_seeds, envs)  # a restart: idempotent
    again = await asyncio.to_thread(runner.service_credentials, identity_url)
    assert again == credentials

    gateway_db = Database(envs["gateway"]["HUB_DATABASE_URL"])
    identity_db = Database(identity_url)
    try:
        async with gateway_db.sessionmaker() as session:
            county = await get_client(session, DEMO_COUNTY_ID)
        assert county is not None and county.orgs == list(DEMO_COUNTY_ORGS)
        assert county.channels == ["rest"] and county.status == "active"
        async with identity_db.sessionmaker() as session:
            own = await session.get(Client, SERVICE_CLIENT_ID)
        secret = credentials["HUB_AUTH_CLIENT_SECRET"]
        assert own is not None and own.can_introspect and own.secret_hash == digest(secret)
    finally:
        await gateway_db.dispose()
        await identity_db.dispose()
