"""Token lifetimes and the ways a token dies early: the access-token cap no client can
exceed, the refresh family's absolute lifetime, a 授权代办 token carrying only the grant's
scopes, logout and a disabled client making tokens inactive (introspection, refresh,
userinfo)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from joserfc import jwt
from sqlalchemy import select, update

from services.identity import accounts, clients
from services.identity.clients import ClientSpec
from services.identity.store.tables import Client, IssuedToken
from tests.identity.support import (
    CITIZEN_ID,
    CITIZEN_PASSWORD,
    ISSUER,
    USCC,
    browser,
    identity_env,
    mark_verified,
    user_tokens,
)

AGENT_ID = "440106199001011235"
MAX_REFRESH = 3600


@pytest.fixture(scope="module")
async def env(pg):
    url = await pg.create("identity_lifetimes")
    async with identity_env(
        url, settings={"identity_refresh_token_max_lifetime": MAX_REFRESH}
    ) as e:
        async with e.core.db.transaction() as session:
            for cid, lifetime in (("long-lived", 30 * 86400), ("short-lived", 120)):
                _, secret = await clients.create_client(
                    session,
                    ClientSpec(
                        client_id=cid,
                        name=cid,
                        grant_types=["client_credentials"],
                        scopes=["cases:push"],
                        access_token_lifetime=lifetime,
                    ),
                )
                e.secrets[cid] = secret or ""
        # Only a verified 法定代表人 grants 授权代办, and only to a verified agent.
        await mark_verified(e.core, CITIZEN_ID)
        async with e.core.db.transaction() as session:
            admin = await accounts.find_by_username(session, e.core, CITIZEN_ID)
            assert admin is not None
            await accounts.create_legal(
                session,
                e.core,
                uscc=USCC,
                name="广州示例科技有限公司",
                password=None,
                admin_account_id=admin.id,
                level="L3",  # confirmed by the legal-person base
            )
            await accounts.create_natural(
                session,
                e.core,
                id_number=AGENT_ID,
                name="李四",
                password="agent password",
                level="L3",
            )
        yield e


async def _client_token(env, client_id: str) -> dict:
    r = await env.http.post(
        f"{ISSUER}/token",
        auth=(client_id, env.secrets[client_id]),
        data={"grant_type": "client_credentials"},
    )
    assert r.status_code == 200, r.text
    return r.json()


async def _active(env, token: str) -> bool:
    r = await env.http.post(
        f"{ISSUER}/introspect", auth=("web", env.secrets["web"]), data={"token": token}
    )
    assert r.status_code == 200
    return r.json()["active"]


async def _refresh(b, refresh_token: str):
    return await b.post(
        f"{ISSUER}/token",
        data={"grant_type": "refresh_token", "client_id": "portal", "refresh_token": refresh_token},
    )


async def test_access_tokens_never_outlive_the_configured_maximum(env) -> None:
    assert env.core.settings.identity_access_token_max_lifetime == 600  # the default cap
    long = await _client_token(env, "long-lived")  # registered for 30 days
    claims = jwt.decode(long["access_token"], env.core.keys.public_keys).claims
    assert long["expires_in"] == 600 and claims["exp"] - claims["iat"] == 600
    short = await _client_token(env, "short-lived")
    assert short["expires_in"] == 120  # below the cap: the client's own lifetime
    async with browser(env) as b:
        user = await user_tokens(env, b, CITIZEN_ID, CITIZEN_PASSWORD)
    assert user["expires_in"] <= 600


async def test_refresh_family_ends_at_its_absolute_lifetime(env) -> None:
    async with browser(env) as b:
        first = await user_tokens(env, b, CITIZEN_ID, CITIZEN_PASSWORD)
        jti = jwt.decode(first["access_token"], env.core.keys.public_keys).claims["jti"]
        async with env.core.db.sessionmaker() as s:
            row = await s.get(IssuedToken, jti)
            assert row is not None and row.refresh_expires_at is not None
            # The idle lifetime (8 h) is longer than the family's maximum (1 h here).
            assert row.refresh_expires_at - row.issued_at == timedelta(seconds=MAX_REFRESH)
            family = row.family_id
        # 59 minutes into the grant: rotation still works, but the new refresh token
        # expires with the family, not 8 hours later.
        await _backdate(env, family, timedelta(seconds=MAX_REFRESH - 60))
        second = await _refresh(b, first["refresh_token"])
        assert second.status_code == 200, second.text
        async with env.core.db.sessionmaker() as s:
            rows = (
                await s.scalars(select(IssuedToken).where(IssuedToken.family_id == family))
            ).all()
        newest = max(rows, key=lambda r: r.issued_at)
        left = newest.refresh_expires_at - datetime.now(UTC)
        assert timedelta(0) < left <= timedelta(seconds=61)
        # Past the family's end: refused, however recently the token was rotated.
        await _backdate(env, family, timedelta(seconds=MAX_REFRESH + 1))
        third = await _refresh(b, second.json()["refresh_token"])
        assert third.status_code == 400 and third.json()["error"] == "invalid_grant"


async def _backdate(env, family: str, age: timedelta) -> None:
    """Move the whole family back in time (issue and refresh expiry alike)."""
    async with env.core.db.transaction() as s:
        rows = (await s.scalars(select(IssuedToken).where(IssuedToken.family_id == family))).all()
        start = min(r.issued_at for r in rows)
        shift = datetime.now(UTC) - age - start
        for r in rows:
            r.issued_at += shift
            if r.refresh_expires_at is not None:
                r.refresh_expires_at += shift


async def test_delegated_token_carries_only_the_grant_scopes(env) -> None:
    async with browser(env) as boss, browser(env) as agent:
        boss_token = (await user_tokens(env, boss, CITIZEN_ID, CITIZEN_PASSWORD))["access_token"]
        granted = await boss.post(
            f"{ISSUER}/v1/legal-persons/{USCC}/delegations",
            headers={"Authorization": f"Bearer {boss_token}"},
            json={
                "agent_id_number": AGENT_ID,
                "scopes": ["cases:read"],
                "ends_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
            },
        )
        assert granted.status_code == 201, granted.text
        # Asked for more than the grant: profile and phone are dropped.
        acting = await user_tokens(
            env,
            agent,
            AGENT_ID,
            "agent password",
            scope="openid profile phone cases:read",
            act_for=USCC,
        )
        assert acting["scope"] == "openid cases:read"
        claims = jwt.decode(acting["access_token"], env.core.keys.public_keys).claims
        assert claims["scope"] == "openid cases:read" and claims["uscc"] == USCC
        refreshed = await _refresh(agent, acting["refresh_token"])
        assert refreshed.json()["scope"] == "openid cases:read"
        # Only what the grant does not cover: refused, not widened to the client's scopes.
        denied = await agent.get(
            f"{ISSUER}/authorize",
            params={
                "response_type": "code",
                "client_id": "portal",
                "redirect_uri": "http://127.0.0.1:9000/callback",
                "scope": "profile phone",
                "act_for": USCC,
                "code_challenge": "x" * 43,
                "code_challenge_method": "S256",
            },
        )
        assert "error=access_denied" in denied.headers.get("location", "")
        # Intersected with what was asked: not asked, not given.
        narrow = await user_tokens(
            env, agent, AGENT_ID, "agent password", scope="openid", act_for=USCC
        )
        assert narrow["scope"] == "openid"


async def test_logout_makes_the_session_tokens_inactive(env) -> None:
    async with browser(env) as b:
        tokens = await user_tokens(env, b, CITIZEN_ID, CITIZEN_PASSWORD)
        second = await user_tokens(env, b, CITIZEN_ID, CITIZEN_PASSWORD, client_id="portal")
        rotated = await _refresh(b, second["refresh_token"])
        assert rotated.status_code == 200
        live = [tokens["access_token"], rotated.json()["access_token"]]
        assert all([await _active(env, t) for t in live])
        out = await b.get(f"{ISSUER}/logout")
        assert out.status_code == 200
        for t in live:
            assert not await _active(env, t)
        assert not await _active(env, rotated.json()["refresh_token"])
        after = await _refresh(b, rotated.json()["refresh_token"])
        assert after.json()["error"] == "invalid_grant"
        info = await b.get(
            f"{ISSUER}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert info.status_code == 401


async def test_disabling_a_client_makes_its_tokens_inactive_at_once(env) -> None:
    async with env.core.db.transaction() as s:
        _, secret = await clients.create_client(
            s,
            ClientSpec(
                client_id="soon-disabled",
                name="soon disabled",
                grant_types=["authorization_code", "refresh_token", "client_credentials"],
                scopes=["openid", "cases:read"],
                redirect_uris=["http://127.0.0.1:9000/callback"],
            ),
        )
    env.secrets["soon-disabled"] = secret or ""
    machine = await _client_token(env, "soon-disabled")
    async with browser(env) as b:
        portal = await user_tokens(env, b, CITIZEN_ID, CITIZEN_PASSWORD)
    assert await _active(env, machine["access_token"])
    async with env.core.db.transaction() as s:
        await clients.set_disabled(s, "soon-disabled", True)
    assert not await _active(env, machine["access_token"])
    assert await _active(env, portal["access_token"])  # other clients' tokens unaffected
    refused = await env.http.post(
        f"{ISSUER}/token",
        auth=("soon-disabled", secret or ""),
        data={"grant_type": "client_credentials"},
    )
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    # Re-enabled: new tokens work again.
    async with env.core.db.transaction() as s:
        await clients.set_disabled(s, "soon-disabled", False)
    assert await _active(env, (await _client_token(env, "soon-disabled"))["access_token"])


async def test_disabling_the_portal_ends_its_user_tokens(env) -> None:
    async with browser(env) as b:
        tokens = await user_tokens(env, b, CITIZEN_ID, CITIZEN_PASSWORD, client_id="portal")
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await b.get(f"{ISSUER}/userinfo", headers=auth)).status_code == 200
        async with env.core.db.transaction() as s:
            await clients.set_disabled(s, "portal", True)
        try:
            assert not await _active(env, tokens["access_token"])
            assert (await b.get(f"{ISSUER}/userinfo", headers=auth)).status_code == 401
            refreshed = await _refresh(b, tokens["refresh_token"])
            assert refreshed.status_code in (400, 401)
        finally:
            async with env.core.db.transaction() as s:
                await s.execute(update(Client).values(disabled=False))
