"""Staff (工作人员) login and the admin API (clients, staff, key rotation) for role
``identity-admin``: allowed for it, a 403 problem for anyone else, bad input a 4xx problem."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from services.identity import accounts
from services.runtime.auth import TokenVerifier
from tests.identity.support import (
    CITIZEN_ID,
    CITIZEN_PASSWORD,
    ISSUER,
    browser,
    identity_env,
    user_tokens,
    valid_uscc,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")
ORG = valid_uscc("11440203MB2C3D4E5")  # 武江区政务服务数据管理局
OTHER_ORG = valid_uscc("11440204MB2C3D4E6")
ADMIN_PASSWORD = "admin password 1"
CLERK_PASSWORD = "clerk password 1"
PROBLEM = "application/problem+json"
ADMIN_ROLES = ["case-officer", "eval-reviewer", "identity-admin", "ops"]


@pytest.fixture(scope="module")
async def env(pg):
    url = await pg.create("identity_admin")
    async with identity_env(url) as e:
        async with e.core.db.transaction() as session:
            # The admin is vouched for by the operator (L3); staff otherwise start at L2.
            for username, password, roles, level in (
                ("ops.admin", ADMIN_PASSWORD, ADMIN_ROLES, "L3"),
                ("clerk", CLERK_PASSWORD, ["case-officer"], "L2"),
            ):
                await accounts.create_staff(
                    session,
                    e.core,
                    username=username,
                    name="王管理" if username == "ops.admin" else "李窗口",
                    password=password,
                    org_uscc=ORG,
                    department="信息中心",
                    division="440203",
                    roles=roles,
                    level=level,
                )
        yield e


async def _tokens(env, username: str, password: str) -> dict[str, Any]:
    async with browser(env) as b:
        return await user_tokens(env, b, username, password, scope="openid profile")


async def _bearer(env, username: str, password: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {(await _tokens(env, username, password))['access_token']}"}


def _verifier(env) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, audience="ywtb-hub", jwks=env.core.keys.jwks)


async def test_staff_login_carries_org_roles_division_and_department(env) -> None:
    tokens = await _tokens(env, "ops.admin", ADMIN_PASSWORD)
    p = await _verifier(env).verify(tokens["access_token"])
    assert p.subject_type == "staff" and p.subject.startswith("st")
    assert p.uscc == ORG and p.roles == frozenset(ADMIN_ROLES)
    assert p.division == "440203" and p.department == "信息中心"
    assert p.acr == "L3" and p.name == "王管理" and p.id_ref is None
    id_claims = jwt.decode(tokens["id_token"], KeySet.import_key_set(env.core.keys.jwks)).claims
    assert id_claims["sub"] == p.subject and id_claims["sub_type"] == "staff"
    assert id_claims["uscc"] == ORG and id_claims["dept"] == "信息中心"
    info = await env.http.get(
        f"{ISSUER}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert info.status_code == 200 and info.json()["roles"] == ADMIN_ROLES


async def test_admin_creates_a_client_usable_for_client_credentials(env) -> None:
    admin = await _bearer(env, "ops.admin", ADMIN_PASSWORD)
    created = await env.http.post(
        f"{ISSUER}/v1/admin/clients",
        headers=admin,
        json={
            "name": "乐昌市审批系统",
            "grant_types": ["client_credentials"],
            "scopes": ["cases:push", "cases:read"],
            "access_token_lifetime": 120,
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["client_secret"] and body["scopes"] == ["cases:push", "cases:read"]
    token = await env.http.post(
        f"{ISSUER}/token",
        auth=(body["client_id"], body["client_secret"]),
        data={"grant_type": "client_credentials", "scope": "cases:push"},
    )
    assert token.status_code == 200, token.text
    assert token.json()["expires_in"] == 120
    p = await _verifier(env).verify(token.json()["access_token"])
    assert p.subject_type == "client" and p.client_id == body["client_id"]
    assert p.scopes == frozenset({"cases:push"})
    # The secret is shown once and stored only as a digest: a wrong one is refused.
    wrong = await env.http.post(
        f"{ISSUER}/token",
        auth=(body["client_id"], body["client_secret"] + "x"),
        data={"grant_type": "client_credentials"},
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


async def test_admin_creates_staff_who_can_log_in(env) -> None:
    admin = await _bearer(env, "ops.admin", ADMIN_PASSWORD)
    created = await env.http.post(
        f"{ISSUER}/v1/admin/staff",
        headers=admin,
        json={
            "username": "window.01",
            "name": "赵窗口",
            "password": "window password 1",
            "org_uscc": ORG.lower(),
            "department": "综合受理窗口",
            "division": "440203",
            "roles": ["case-officer", "eval-reviewer"],
        },
    )
    assert created.status_code == 201, created.text
    # Staff start at L2 until an in-person check (or the operator) vouches more.
    assert created.json()["sub_type"] == "staff" and created.json()["level"] == "L2"
    p = await _verifier(env).verify(
        (await _tokens(env, "window.01", "window password 1"))["access_token"]
    )
    assert p.subject == created.json()["sub"] and p.uscc == ORG
    assert p.roles == frozenset({"case-officer", "eval-reviewer"})
    assert p.department == "综合受理窗口" and p.acr == "L2"
    again = await env.http.post(
        f"{ISSUER}/v1/admin/staff",
        headers=admin,
        json={"username": "window.01", "name": "x", "password": "another pass 1", "org_uscc": ORG},
    )
    assert again.status_code == 409 and again.headers["content-type"].startswith(PROBLEM)


async def test_admin_rotates_keys(env) -> None:
    admin = await _bearer(env, "ops.admin", ADMIN_PASSWORD)
    old_kid = env.core.keys.signing_key.kid
    rotated = await env.http.post(f"{ISSUER}/v1/admin/keys/rotate", headers=admin)
    assert rotated.status_code == 200, rotated.text
    new_kid = rotated.json()["kid"]
    assert new_kid != old_kid
    published = {k["kid"] for k in (await env.http.get(f"{ISSUER}/jwks")).json()["keys"]}
    assert {old_kid, new_kid} <= published
    # The admin's own token (old key) still works until it expires.
    again = await env.http.post(f"{ISSUER}/v1/admin/keys/rotate", headers=admin)
    assert again.status_code == 200


async def test_admin_api_refuses_everyone_else(env) -> None:
    citizen = await _bearer(env, CITIZEN_ID, CITIZEN_PASSWORD)
    clerk = await _bearer(env, "clerk", CLERK_PASSWORD)
    county = (
        await env.http.post(
            f"{ISSUER}/token",
            auth=("county", env.secrets["county"]),
            data={"grant_type": "client_credentials"},
        )
    ).json()["access_token"]
    client_body = {"name": "x", "grant_types": ["client_credentials"], "scopes": ["cases:push"]}
    staff_body = {"username": "sneaky", "name": "x", "password": "long enough 1", "org_uscc": ORG}
    calls = [
        ("/v1/admin/clients", client_body),
        ("/v1/admin/staff", staff_body),
        ("/v1/admin/keys/rotate", None),
    ]
    for path, body in calls:
        anonymous = await env.http.post(f"{ISSUER}{path}", json=body)
        assert anonymous.status_code == 401, path
        assert anonymous.headers["content-type"].startswith(PROBLEM)
        for who in (citizen, clerk, {"Authorization": f"Bearer {county}"}):
            r = await env.http.post(f"{ISSUER}{path}", json=body, headers=who)
            assert r.status_code == 403, (path, r.text)
            assert r.headers["content-type"].startswith(PROBLEM)
            assert r.json()["type"].endswith("/forbidden")
    async with env.core.db.sessionmaker() as session:
        assert await accounts.find_by_username(session, env.core, "sneaky") is None

    admin_tokens = await _tokens(env, "ops.admin", ADMIN_PASSWORD)
    admin = {"Authorization": f"Bearer {admin_tokens['access_token']}"}
    elsewhere = await env.http.post(
        f"{ISSUER}/v1/admin/staff", headers=admin, json={**staff_body, "org_uscc": OTHER_ORG}
    )
    assert elsewhere.status_code == 403 and "own org" in elsewhere.json()["detail"]
    # A revoked admin token is refused at once (the admin API checks revocation).
    await env.http.post(
        f"{ISSUER}/revoke",
        data={"token": admin_tokens["refresh_token"], "client_id": "portal"},
    )
    revoked = await env.http.post(f"{ISSUER}/v1/admin/keys/rotate", headers=admin)
    assert revoked.status_code == 401 and revoked.json()["type"].endswith("/unauthorized")


BAD_CLIENTS: list[Any] = [
    {"name": "x", "grant_types": ["password"], "scopes": []},
    {"name": "x", "grant_types": [], "scopes": []},
    {"name": "x", "grant_types": ["client_credentials"], "public": True},
    {"name": "x", "grant_types": ["authorization_code"], "public": True},
    {"name": "x", "grant_types": ["authorization_code"], "redirect_uris": ["/relative"]},
    {"name": "x", "grant_types": ["authorization_code"], "redirect_uris": ["https://a/cb#f"]},
    {"name": "x", "grant_types": ["authorization_code"], "redirect_uris": ["javascript:x"]},
    {"name": "x", "grant_types": ["client_credentials"], "scopes": ['bad"scope']},
    {"name": "x", "grant_types": ["client_credentials"], "scopes": ["two words"]},
    {"name": "x", "grant_types": ["client_credentials"], "access_token_lifetime": 5},
    {"name": "x", "grant_types": ["client_credentials"], "refresh_token_lifetime": 10**9},
    {"name": "x" * 201, "grant_types": ["client_credentials"]},
    {"name": "", "grant_types": ["client_credentials"]},
    {"name": "x", "grant_types": "client_credentials"},
    {"grant_types": ["client_credentials"]},
    ["not", "an", "object"],
]
BAD_STAFF: list[Any] = [
    {"org_uscc": "91440101MA59AB1230"},  # wrong check character
    {"org_uscc": "not-a-uscc"},
    {"division": "999999"},
    {"division": "44020"},
    {"password": "short"},
    {"username": "13800138000"},  # would be shadowed by phone login
    {"username": "11010519491231002X"},
    {"username": "has space"},
    {"username": "x" * 65},
    {"name": "x" * 101},
    {"name": "   "},
    {"department": "部" * 201},
    {"roles": ["identity admin"]},
    {"roles": "identity-admin"},
]


async def test_bad_admin_input_is_a_4xx_problem_never_a_500(env) -> None:
    admin = await _bearer(env, "ops.admin", ADMIN_PASSWORD)
    for body in BAD_CLIENTS:
        r = await env.http.post(f"{ISSUER}/v1/admin/clients", headers=admin, json=body)
        assert r.status_code == 422, (body, r.status_code, r.text)
        assert r.headers["content-type"].startswith(PROBLEM)
    base = {
        "username": "new.staff",
        "name": "新同事",
        "password": "long enough 1",
        "org_uscc": ORG,
    }
    for change in BAD_STAFF:
        r = await env.http.post(f"{ISSUER}/v1/admin/staff", headers=admin, json={**base, **change})
        assert r.status_code == 422, (change, r.status_code, r.text)
        assert r.headers["content-type"].startswith(PROBLEM)
    raw = [
        b"{not json",
        b'{"name": "x", "grant_types": ["client_credentials"], "scopes": [1, 2]}',
        b"\xff\xfe",
    ]
    for content in raw:
        r = await env.http.post(
            f"{ISSUER}/v1/admin/clients",
            headers={**admin, "Content-Type": "application/json"},
            content=content,
        )
        assert 400 <= r.status_code < 500 and r.headers["content-type"].startswith(PROBLEM)
    xml = await env.http.post(
        f"{ISSUER}/v1/admin/clients",
        headers={**admin, "Content-Type": "text/xml"},
        content=b"<client/>",
    )
    assert xml.status_code == 415
    async with env.core.db.sessionmaker() as session:
        assert await accounts.find_by_username(session, env.core, "new.staff") is None


async def test_admin_api_is_in_openapi(env) -> None:
    doc = (await env.http.get(f"{ISSUER}/openapi.json")).json()
    for path in ("/v1/admin/clients", "/v1/admin/staff", "/v1/admin/keys/rotate"):
        assert "post" in doc["paths"][path]
