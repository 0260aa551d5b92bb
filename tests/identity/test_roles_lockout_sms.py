"""Role assignment under the allow-list, staff in-person checks, lockout per (account,
source) and SMS send limits per number (issue 8), on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from services.identity import accounts
from services.identity.cli import app as identity_cli
from services.identity.store.tables import Account, LocalSmsMessage, SmsCode, StaffMember
from services.runtime.messaging.tables import outbox
from tests.identity.support import (
    CITIZEN_ID,
    CITIZEN_PASSWORD,
    ISSUER,
    PHONE,
    Env,
    form_fields,
    identity_env,
    user_tokens,
    valid_uscc,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")
ORG = valid_uscc("11440203MB2C3D4E5")
OTHER_ORG = valid_uscc("11440204MB2C3D4E6")
PASSWORD = "staff password 1"
ATTACKER = ("203.0.113.9", 40000)
OWNER = ("198.51.100.7", 40001)


@pytest.fixture(scope="module")
async def env(pg) -> AsyncIterator[Env]:
    url = await pg.create("identity_roles")
    async with identity_env(url, settings={"identity_sms_daily_limit": 3}) as e:
        async with e.core.db.transaction() as session:
            for username, org, roles, level in (
                ("org.admin", ORG, ["identity-admin", "case-officer"], "L3"),
                ("weak.admin", ORG, ["identity-admin", "case-officer"], "L2"),
                ("clerk", ORG, ["case-officer"], "L2"),
                ("other.admin", OTHER_ORG, ["identity-admin", "case-officer"], "L3"),
                ("other.clerk", OTHER_ORG, ["case-officer"], "L2"),
                ("super", OTHER_ORG, ["identity-superadmin", "identity-admin", "ops"], "L3"),
            ):
                await accounts.create_staff(
                    session,
                    e.core,
                    username=username,
                    name="某员工",
                    password=PASSWORD,
                    org_uscc=org,
                    department=None,
                    division=None,
                    roles=roles,
                    level=level,
                )
        yield e


def _client(env: Env, source: tuple[str, int]) -> httpx.AsyncClient:
    """A browser at a given network address (the request's client address)."""
    transport = httpx.ASGITransport(app=env.app, client=source)
    return httpx.AsyncClient(transport=transport, base_url=ISSUER)


async def _bearer(env: Env, username: str, password: str = PASSWORD) -> dict[str, str]:
    async with _client(env, OWNER) as b:
        tokens = await user_tokens(env, b, username, password)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def _sub(env: Env, username: str) -> str:
    async with env.core.db.sessionmaker() as session:
        acc = await accounts.find_by_username(session, env.core, username)
    assert acc is not None
    return acc.id


def _staff(username: str, roles: list[str], org: str = ORG) -> dict[str, Any]:
    return {
        "username": username,
        "name": "新同事",
        "password": PASSWORD,
        "org_uscc": org,
        "roles": roles,
    }


async def test_role_escalation_is_refused(env) -> None:
    admin = await _bearer(env, "org.admin")
    create = f"{ISSUER}/v1/admin/staff"
    cases = [
        (_staff("x.super", ["identity-superadmin"]), "role-not-grantable"),
        (_staff("x.eval", ["eval-reviewer"]), "role-not-grantable"),  # not held by the admin
        (_staff("x.other", ["case-officer"], OTHER_ORG), "forbidden"),
    ]
    for body, problem in cases:
        r = await env.http.post(create, json=body, headers=admin)
        assert r.status_code == 403, (body, r.text)
        assert r.json()["type"].endswith("/" + problem)
    ok = await env.http.post(create, json=_staff("x.officer", ["case-officer"]), headers=admin)
    assert ok.status_code == 201 and ok.json()["level"] == "L2"
    # An administrator who is only L2 administers nobody.
    weak = await _bearer(env, "weak.admin")
    for path, body in (
        ("/v1/admin/staff", _staff("x.weak", [])),
        ("/v1/admin/clients", {"name": "x", "grant_types": ["client_credentials"]}),
        ("/v1/admin/keys/rotate", None),
    ):
        r = await env.http.post(f"{ISSUER}{path}", json=body, headers=weak)
        assert r.status_code == 403 and r.json()["type"].endswith("/insufficient-assurance")

    clerk = await _sub(env, "clerk")
    roles = f"{ISSUER}/v1/admin/staff/{clerk}/roles"
    for wanted in (
        ["case-officer", "identity-superadmin"],
        ["case-officer", "eval-reviewer"],
    ):
        r = await env.http.put(roles, json={"roles": wanted}, headers=admin)
        assert r.status_code == 403 and r.json()["type"].endswith("/role-not-grantable")
    other = await _sub(env, "other.clerk")
    r = await env.http.put(
        f"{ISSUER}/v1/admin/staff/{other}/roles", json={"roles": []}, headers=admin
    )
    assert r.status_code == 403 and "own org" in r.json()["detail"]
    # The superadmin may not be stripped by an org admin of its org either.
    super_sub = await _sub(env, "super")
    other_admin = await _bearer(env, "other.admin")
    r = await env.http.put(
        f"{ISSUER}/v1/admin/staff/{super_sub}/roles", json={"roles": ["ops"]}, headers=other_admin
    )
    assert r.status_code == 403
    missing = await env.http.put(
        f"{ISSUER}/v1/admin/staff/st-nobody/roles", json={"roles": []}, headers=admin
    )
    assert missing.status_code == 404

    promoted = await env.http.put(
        roles, json={"roles": ["case-officer", "identity-admin"]}, headers=admin
    )
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["roles"] == ["case-officer", "identity-admin"]
    # A superadmin works across orgs, still only with roles it holds.
    sup = await _bearer(env, "super")
    r = await env.http.post(create, json=_staff("x.ops", ["ops"]), headers=sup)
    assert r.status_code == 201
    r = await env.http.post(create, json=_staff("x.case", ["case-officer"]), headers=sup)
    assert r.status_code == 403
    async with env.core.db.sessionmaker() as session:
        member = await session.get(StaffMember, clerk)
        assert member is not None and member.roles == ["case-officer", "identity-admin"]
        events = (
            await session.execute(
                select(outbox.c.event_type, outbox.c.payload).where(outbox.c.key == clerk)
            )
        ).all()
    changed = [p for t, p in events if t == "hub.identity.staff.roles-changed"]
    assert len(changed) == 1
    data = changed[0]["data"] if "data" in changed[0] else changed[0]
    assert data["roles_before"] == ["case-officer"] and data["by"] == await _sub(env, "org.admin")


async def test_superadmin_only_from_the_cli(env) -> None:
    sub = await _sub(env, "x.officer")
    import asyncio

    # The CLI runs its own event loop: off this one, in a thread.
    result = await asyncio.to_thread(
        CliRunner().invoke,
        identity_cli,
        [
            *("users", "roles", "--username", "x.officer"),
            *("--role", "identity-superadmin", "--role", "case-officer"),
        ],
        env={"HUB_DATABASE_URL": env.core.settings.database_url},
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["roles"] == ["case-officer", "identity-superadmin"]
    async with env.core.db.sessionmaker() as session:
        types = (
            await session.scalars(select(outbox.c.event_type).where(outbox.c.key == sub))
        ).all()
    assert "hub.identity.staff.roles-changed" in types


async def test_in_person_check_by_an_admin_of_the_same_org(env) -> None:
    target = await _sub(env, "x.officer")
    path = f"{ISSUER}/v1/admin/staff/{target}/in-person-check"
    other = await _bearer(env, "other.admin")
    assert (await env.http.post(path, headers=other)).status_code == 403
    officer_self = await _sub(env, "org.admin")
    admin = await _bearer(env, "org.admin")
    own = await env.http.post(
        f"{ISSUER}/v1/admin/staff/{officer_self}/in-person-check", headers=admin
    )
    assert own.status_code == 403
    ok = await env.http.post(path, headers=admin)
    assert ok.status_code == 200 and ok.json()["level"] == "L5"
    async with env.core.db.sessionmaker() as session:
        acc = await session.get(Account, target)
    assert acc is not None and acc.level == "L5"


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    page = await client.get(
        f"{ISSUER}/authorize",
        params={
            "response_type": "code",
            "client_id": "web",
            "redirect_uri": "http://127.0.0.1:9000/callback",
            "scope": "openid",
        },
    )
    return await client.post(
        f"{ISSUER}/login",
        data={**form_fields(page.text), "username": username, "password": password},
    )


async def test_failures_from_one_source_do_not_lock_out_the_owner(env) -> None:
    async with _client(env, ATTACKER) as attacker, _client(env, OWNER) as owner:
        for _ in range(4):
            assert (await _login(attacker, CITIZEN_ID, "guess")).status_code == 401
        locked = await _login(attacker, CITIZEN_ID, "guess")
        assert locked.status_code == 423
        # The attacker's source stays locked even with the right password …
        assert (await _login(attacker, CITIZEN_ID, CITIZEN_PASSWORD)).status_code == 423
        # … while the owner, elsewhere, logs in.
        assert (await _login(owner, CITIZEN_ID, CITIZEN_PASSWORD)).status_code == 303
    async with env.core.db.sessionmaker() as session:
        payloads = (
            await session.scalars(
                select(outbox.c.payload).where(outbox.c.event_type == "hub.identity.account.locked")
            )
        ).all()
    assert any(ATTACKER[0] in json.dumps(p) for p in payloads)


async def _send(client: httpx.AsyncClient, phone: str) -> httpx.Response:
    page = await client.get(
        f"{ISSUER}/authorize",
        params={
            "response_type": "code",
            "client_id": "web",
            "redirect_uri": "http://127.0.0.1:9000/callback",
            "scope": "openid",
        },
    )
    return await client.post(
        f"{ISSUER}/login/sms/send", data={**form_fields(page.text), "phone": phone}
    )


async def _messages(env: Env, masked: str) -> int:
    async with env.core.db.sessionmaker() as session:
        rows = await session.scalars(
            select(LocalSmsMessage).where(LocalSmsMessage.phone_masked == masked)
        )
        return len(rows.all())


async def test_sms_sends_are_limited_per_number(env) -> None:
    async with _client(env, OWNER) as b:
        first = await _send(b, PHONE)
        assert first.status_code == 200 and await _messages(env, "138****8000") == 1
        # Within a minute: the same page, no second message.
        again = await _send(b, PHONE)
        assert again.status_code == 200 and await _messages(env, "138****8000") == 1
        # An unregistered number gets the same page and no message.
        unknown = await _send(b, "13700137000")
        assert unknown.status_code == 200 and await _messages(env, "137****7000") == 0
        assert "如手机号已注册，验证码已发送" in unknown.text and "如手机号已注册" in again.text
        # Past the minute, up to the daily limit (3 here), then nothing more today.
        for expected in (2, 3, 3):
            async with env.core.db.transaction() as session:
                for row in (await session.scalars(select(SmsCode))).all():
                    assert row.sent_at is not None
                    row.sent_at = row.sent_at - timedelta(seconds=61)
            assert (await _send(b, PHONE)).status_code == 200
            assert await _messages(env, "138****8000") == expected
