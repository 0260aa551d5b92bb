"""Lockout, TOTP, SMS codes, 授权代办, key rotation and masking."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select, update

from services.identity import accounts
from services.identity.store.tables import Account, LocalSmsMessage, LoginFailure
from services.runtime.auth import TokenVerifier
from services.runtime.messaging.tables import outbox
from tests.identity.support import (
    CITIZEN_ID,
    CITIZEN_PASSWORD,
    ISSUER,
    PHONE,
    USCC,
    browser,
    form_fields,
    identity_env,
    mark_verified,
    user_tokens,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")
AGENT_ID = "440106199001011235"


@pytest.fixture(scope="module")
async def env(pg):
    url = await pg.create("identity_login")
    async with identity_env(url) as e:
        yield e


async def _login_page(client) -> dict[str, str]:
    page = await client.get(
        f"{ISSUER}/authorize",
        params={
            "response_type": "code",
            "client_id": "web",
            "redirect_uri": "http://127.0.0.1:9000/callback",
            "scope": "openid",
        },
    )
    assert page.status_code == 200
    return form_fields(page.text)


async def test_lockout_grows_and_is_audited(env) -> None:
    async with env.core.db.transaction() as session:
        await accounts.create_natural(
            session,
            env.core,
            id_number="110105194912310038",
            name="王五",
            password="right password 1",
        )
    async with browser(env) as b:
        fields = await _login_page(b)
        for _ in range(4):
            r = await b.post(
                f"{ISSUER}/login",
                data={**fields, "username": "110105194912310038", "password": "wrong"},
            )
            assert r.status_code == 401
        r = await b.post(
            f"{ISSUER}/login",
            data={**fields, "username": "110105194912310038", "password": "wrong"},
        )
        assert r.status_code == 423 and "60" in r.text
        # Even the right password is refused while locked.
        r = await b.post(
            f"{ISSUER}/login",
            data={**fields, "username": "110105194912310038", "password": "right password 1"},
        )
        assert r.status_code == 423
        async with env.core.db.transaction() as session:
            acc = await accounts.find_by_username(session, env.core, "110105194912310038")
            assert acc is not None
            # Counted for this account and this source (the test client's address).
            state = await session.get(LoginFailure, {"account_id": acc.id, "source": "127.0.0.1"})
            assert state is not None and state.failures == 5
            # The wait is over: 5 more failures lock for twice as long.
            state.locked_until = datetime.now(UTC) - timedelta(seconds=1)
        for _ in range(5):
            r = await b.post(
                f"{ISSUER}/login",
                data={**fields, "username": "110105194912310038", "password": "wrong"},
            )
        assert r.status_code == 423 and "120" in r.text
    async with env.core.db.sessionmaker() as session:
        types = (
            await session.scalars(select(outbox.c.event_type).where(outbox.c.key == acc.id))
        ).all()
        payloads = (await session.scalars(select(outbox.c.payload))).all()
    assert types.count("hub.identity.account.locked") == 2
    assert types.count("hub.identity.login.failed") >= 11
    assert not any("110105194912310038" in str(p) for p in payloads)


async def test_totp_second_factor(env) -> None:
    async with env.core.db.transaction() as session:
        acc = await accounts.create_natural(
            session,
            env.core,
            id_number="110105194912310054",
            name="赵六",
            password="totp user pass",
            username="zhaoliu",
        )
    from services.identity import login

    uri = await login.enrol_totp(env.core, acc.id)
    totp = pyotp.parse_uri(uri)
    async with browser(env) as b:
        fields = await _login_page(b)
        step = await b.post(
            f"{ISSUER}/login", data={**fields, "username": "zhaoliu", "password": "totp user pass"}
        )
        assert step.status_code == 200 and 'name="code"' in step.text and "hub_sso" not in b.cookies
        second = form_fields(step.text)
        bad = await b.post(
            f"{ISSUER}/login/totp",
            data={**second, "code": "000000" if totp.now() != "000000" else "111111"},
        )
        assert bad.status_code == 401
        ok = await b.post(f"{ISSUER}/login/totp", data={**second, "code": totp.now()})
        assert ok.status_code == 303 and "hub_sso" in b.cookies


async def test_sms_code_login(env) -> None:
    async with browser(env) as b:
        fields = await _login_page(b)
        sent = await b.post(f"{ISSUER}/login/sms/send", data={**fields, "phone": PHONE})
        assert sent.status_code == 200
        async with env.core.db.sessionmaker() as session:
            msg = (
                await session.scalars(select(LocalSmsMessage).order_by(LocalSmsMessage.id.desc()))
            ).first()
        assert msg is not None and msg.phone_masked == "138****8000"
        code = "".join(ch for ch in msg.text.split("验证码为")[1][:6])
        form = form_fields(sent.text)
        wrong = await b.post(
            f"{ISSUER}/login/sms", data={**form, "code": "999999" if code != "999999" else "000000"}
        )
        assert wrong.status_code == 401
        ok = await b.post(f"{ISSUER}/login/sms", data={**form, "code": code})
        assert ok.status_code == 303
        replay = await b.post(f"{ISSUER}/login/sms", data={**form, "code": code})
        assert replay.status_code == 401


async def test_delegation_grant_use_and_revocation(env) -> None:
    # Only a verified 法定代表人 (L3) of a verified legal person grants 授权代办.
    await mark_verified(env.core, CITIZEN_ID)
    async with env.core.db.transaction() as session:
        admin = await accounts.find_by_username(session, env.core, CITIZEN_ID)
        assert admin is not None
        await accounts.create_legal(
            session,
            env.core,
            uscc=USCC,
            name="广州示例科技有限公司",
            password=None,
            admin_account_id=admin.id,
            level="L3",  # confirmed by the legal-person base
        )
        await accounts.create_natural(
            session,
            env.core,
            id_number=AGENT_ID,
            name="李四",
            password="agent password",
            level="L3",
        )
    async with browser(env) as boss, browser(env) as agent_browser:
        boss_token = (await user_tokens(env, boss, CITIZEN_ID, CITIZEN_PASSWORD))["access_token"]
        auth = {"Authorization": f"Bearer {boss_token}"}
        granted = await boss.post(
            f"{ISSUER}/v1/legal-persons/{USCC}/delegations",
            headers=auth,
            json={
                "agent_id_number": AGENT_ID,
                "scopes": ["cases:read"],
                "ends_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
            },
        )
        assert granted.status_code == 201, granted.text
        grant_id = granted.json()["id"]

        # Without an authorisation nobody acts for the company.
        stranger = await user_tokens(env, agent_browser, AGENT_ID, "agent password")
        tokens = await user_tokens(
            env,
            agent_browser,
            AGENT_ID,
            "agent password",
            scope="openid profile cases:read",
            act_for=USCC,
        )
        verifier = TokenVerifier(issuer=ISSUER, audience="ywtb-hub", jwks=env.core.keys.jwks)
        p = await verifier.verify(tokens["access_token"])
        me = await verifier.verify(stranger["access_token"])
        assert p.subject_type == "legal" and p.uscc == USCC
        assert (
            p.actor is not None
            and p.actor["sub"] == me.subject
            and p.actor["sub_type"] == "natural"
        )
        assert p.has_scope("cases:read")

        seen = await boss.post(
            f"{ISSUER}/introspect",
            auth=("web", env.secrets["web"]),
            data={"token": tokens["access_token"]},
        )
        assert seen.json()["active"] is True and seen.json()["act"]["sub"] == me.subject

        # The agent cannot manage the company's authorisations.
        forbidden = await agent_browser.get(
            f"{ISSUER}/v1/legal-persons/{USCC}/delegations",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )
        assert forbidden.status_code == 403

        revoked = await boss.delete(
            f"{ISSUER}/v1/legal-persons/{USCC}/delegations/{grant_id}", headers=auth
        )
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        gone = await boss.post(
            f"{ISSUER}/introspect",
            auth=("web", env.secrets["web"]),
            data={"token": tokens["access_token"]},
        )
        assert gone.json() == {"active": False}
        refresh = await agent_browser.post(
            f"{ISSUER}/token",
            data={
                "grant_type": "refresh_token",
                "client_id": "portal",
                "refresh_token": tokens["refresh_token"],
            },
        )
        assert refresh.json()["error"] == "invalid_grant"
        again = await agent_browser.get(
            f"{ISSUER}/authorize",
            params={
                "response_type": "code",
                "client_id": "portal",
                "redirect_uri": "http://127.0.0.1:9000/callback",
                "scope": "openid",
                "act_for": USCC,
                "code_challenge": "x" * 43,
                "code_challenge_method": "S256",
            },
        )
        assert "error=access_denied" in again.headers.get("location", again.text)
    async with env.core.db.sessionmaker() as session:
        types = (
            await session.scalars(
                select(outbox.c.event_type).where(outbox.c.key == grant_id).order_by(outbox.c.id)
            )
        ).all()
    assert types == ["hub.identity.authorization.granted", "hub.identity.authorization.revoked"]


async def test_key_rotation(env) -> None:
    county = ("county", env.secrets["county"])
    async with browser(env) as b:
        before = (
            await b.post(f"{ISSUER}/token", auth=county, data={"grant_type": "client_credentials"})
        ).json()
        old_kid = env.core.keys.signing_key.kid
        new_kid = await env.core.keys.rotate()
        assert new_kid != old_kid
        jwks = (await b.get(f"{ISSUER}/jwks")).json()
        assert {k["kid"] for k in jwks["keys"]} >= {old_kid, new_kid}
        after = (
            await b.post(f"{ISSUER}/token", auth=county, data={"grant_type": "client_credentials"})
        ).json()
        verifier = TokenVerifier(issuer=ISSUER, audience="ywtb-hub", jwks=jwks)
        assert (await verifier.verify(before["access_token"])).client_id == "county"
        assert (await verifier.verify(after["access_token"])).token_id
        from joserfc import jws

        assert jws.extract_compact(after["access_token"].encode()).protected["kid"] == new_kid
        # Once every token of the old key has expired, it leaves the JWKS.
        from services.identity.store.tables import SigningKey

        async with env.core.db.transaction() as session:
            await session.execute(
                update(SigningKey)
                .where(SigningKey.kid == old_kid)
                .values(publish_until=datetime.now(UTC) - timedelta(seconds=1))
            )
        await env.core.keys.reload()
        later = (await b.get(f"{ISSUER}/jwks")).json()
        assert old_kid not in {k["kid"] for k in later["keys"]} and new_kid in {
            k["kid"] for k in later["keys"]
        }


async def test_me_shows_full_number_only_to_owner(env, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    async with browser(env) as b:
        tokens = await user_tokens(env, b, CITIZEN_ID, CITIZEN_PASSWORD)
        me = await b.get(
            f"{ISSUER}/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert me.json()["id_number"] == CITIZEN_ID
        info = await b.get(
            f"{ISSUER}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert (
            CITIZEN_ID not in info.text and info.json()["id_number_masked"] == "1101**********002X"
        )
    async with env.core.db.sessionmaker() as session:
        stored = (await session.scalars(select(Account))).all()
        assert stored
        from services.identity.store.tables import NaturalPerson

        rows = (await session.scalars(select(NaturalPerson))).all()
        assert all(CITIZEN_ID not in (r.id_no + (r.phone or "")) for r in rows)
