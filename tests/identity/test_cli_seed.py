"""Operator CLI and the demo seed, against PostgreSQL."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from services.identity.app import create_app
from services.identity.cli import app
from services.identity.seed import COUNTY_ID, COUNTY_SECRET, seed_demo
from tests.identity.support import ISSUER, settings_for, valid_uscc
from tests.support.apps import migrate, serve

STAFF_ORG = valid_uscc("11440203MB2C3D4E5")


def test_cli_creates_clients_and_users(pg, monkeypatch) -> None:
    url = pg.create_sync("identity_cli")
    migrate("identity", url)
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    runner = CliRunner()
    made = runner.invoke(
        app,
        [
            "clients",
            "create",
            "--name",
            "县审批系统",
            "--grant",
            "client_credentials",
            "--scope",
            "cases:push cases:read",
        ],
    )
    assert made.exit_code == 0, made.output
    client = json.loads(made.output)
    assert client["client_id"] and len(client["client_secret"]) >= 40
    assert client["scopes"] == ["cases:push", "cases:read"]
    user = runner.invoke(
        app,
        [
            "users",
            "create",
            "--type",
            "natural",
            "--id-number",
            "11010519491231002X",
            "--name",
            "张三",
            "--password",
            "pass word 1",
            "--level",
            "L3",
        ],
    )
    assert user.exit_code == 0, user.output
    body = json.loads(user.output)
    assert body["level"] == "L3" and body["id_number"] == "1101**********002X"
    bad = runner.invoke(
        app,
        [
            "users",
            "create",
            "--type",
            "natural",
            "--id-number",
            "110105194912310021",
            "--name",
            "x",
            "--password",
            "pass word 1",
        ],
    )
    assert bad.exit_code == 2 and "110105194912310021" not in bad.output
    staff = runner.invoke(
        app,
        [
            *("users", "create", "--type", "staff", "--username", "ops.admin"),
            *("--name", "王管理", "--password", "staff pass 1", "--uscc", STAFF_ORG),
            *("--role", "identity-admin", "--role", "ops", "--division", "440203"),
            *("--department", "信息中心"),
        ],
    )
    assert staff.exit_code == 0, staff.output
    made_staff = json.loads(staff.output)
    assert made_staff["sub_type"] == "staff" and made_staff["uscc"] == STAFF_ORG
    assert made_staff["level"] == "L2"  # staff start at L2 until verified
    no_org = runner.invoke(
        app,
        [
            *("users", "create", "--type", "staff", "--username", "x.y"),
            *("--name", "x", "--password", "staff pass 1"),
        ],
    )
    assert no_org.exit_code == 2 and "--uscc" in no_org.output


async def test_seed_is_idempotent_and_usable(pg) -> None:
    url = await pg.create("identity_seed")
    migrate("identity", url)
    lines = await seed_demo(url)
    assert lines == await seed_demo(url)
    assert not any("11010519491231002X" in line for line in lines)
    async with serve(create_app(settings_for(url)), base_url=ISSUER) as http:
        r = await http.post(
            f"{ISSUER}/token",
            auth=(COUNTY_ID, COUNTY_SECRET),
            data={"grant_type": "client_credentials", "scope": "cases:push"},
        )
        assert r.status_code == 200 and r.json()["scope"] == "cases:push"
    # The demo citizen and staff are verified, so a newcomer sees data after logging in.
    from services.identity import accounts, seed
    from services.identity.store.tables import NaturalPerson

    app = create_app(settings_for(url))
    async with serve(app, base_url=ISSUER):
        core = app.state.hub.extras["identity"]
        async with core.db.sessionmaker() as session:
            citizen = await accounts.verified_natural_account(session, core, seed.CITIZEN_ID)
            assert citizen is not None and citizen.level == "L3"
            person = await session.get(NaturalPerson, citizen.id)
            assert person is not None and person.realname_verified_at is not None
            staff = await accounts.find_by_username(session, core, seed.STAFF_USERNAME)
            assert staff is not None and staff.level == "L3"


async def test_runs_on_sqlite(tmp_path) -> None:
    """The embedded default (`make run`): migrations and a token on a SQLite file."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'identity.db'}"
    migrate("identity", url)
    await seed_demo(url)
    async with serve(create_app(settings_for(url)), base_url=ISSUER) as http:
        r = await http.post(
            f"{ISSUER}/token",
            auth=(COUNTY_ID, COUNTY_SECRET),
            data={"grant_type": "client_credentials"},
        )
        assert r.status_code == 200 and r.json()["scope"] == "cases:push"
        assert len((await http.get(f"{ISSUER}/jwks")).json()["keys"]) == 1


async def test_make_run_services_introspect_and_a_disabled_client_is_inactive(
    tmp_path, monkeypatch
) -> None:
    """`make run` hands every service the `hub-services` client (secret kept in var/); it
    sees any token's status at /introspect. `hub clients disable` ends a client's tokens."""
    import asyncio
    import stat

    from hub import runner

    url = f"sqlite+aiosqlite:///{tmp_path / 'identity.db'}"
    migrate("identity", url)
    await seed_demo(url)
    monkeypatch.setattr(runner, "VAR_DIR", tmp_path)
    creds = await asyncio.to_thread(runner.service_credentials, url)
    assert creds == await asyncio.to_thread(runner.service_credentials, url)  # kept
    assert stat.S_IMODE((tmp_path / "service-client.secret").stat().st_mode) == 0o600
    service = (creds["HUB_AUTH_CLIENT_ID"], creds["HUB_AUTH_CLIENT_SECRET"])
    async with serve(create_app(settings_for(url)), base_url=ISSUER) as http:
        county = (
            await http.post(
                f"{ISSUER}/token",
                auth=(COUNTY_ID, COUNTY_SECRET),
                data={"grant_type": "client_credentials"},
            )
        ).json()["access_token"]
        seen = await http.post(f"{ISSUER}/introspect", auth=service, data={"token": county})
        assert seen.json()["active"] is True and seen.json()["client_id"] == COUNTY_ID

        monkeypatch.setenv("HUB_DATABASE_URL", url)
        done = await asyncio.to_thread(CliRunner().invoke, app, ["clients", "disable", COUNTY_ID])
        assert done.exit_code == 0, done.output
        assert json.loads(done.output)["disabled"] is True
        gone = await http.post(f"{ISSUER}/introspect", auth=service, data={"token": county})
        assert gone.json() == {"active": False}
