"""Assurance at the source (issue 8): ID-number squatting, no enumeration through
registration, legal-person registration against the legal-person base, 授权代办 only by
the verified 法定代表人, and mobile numbers attached only after an SMS code.

Real parts: PostgreSQL, the gateway app (real-name adapter) in-process, the province
simulator over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from services.identity import accounts
from services.identity.store.tables import LocalSmsMessage, NaturalPerson
from services.runtime.auth import TokenVerifier
from tests.identity.support import (
    CITIZEN_ID,
    CITIZEN_PASSWORD,
    ISSUER,
    PHONE,
    RP,
    Env,
    browser,
    form_fields,
    identity_env,
    mark_verified,
    realname_via_gateway,
    user_tokens,
    valid_uscc,
)
from tests.peers.province_realname import Company, ProvinceRealName

pytestmark = pytest.mark.asyncio(loop_scope="session")
REAL_ID = "440106199001011235"  # 王五, who will verify
REAL_NAME = "王五"
OTHER_ID = "110105194912310038"  # registered by nobody before the test
COMPANY = valid_uscc("91440106MA5CXY712")
COMPANY_NAME = "广州天河示例有限公司"


@pytest.fixture(scope="module")
def province():
    sim = ProvinceRealName()
    sim.people[REAL_ID] = REAL_NAME
    sim.people[CITIZEN_ID] = "张三"
    sim.companies[COMPANY] = Company(COMPANY_NAME, REAL_NAME, REAL_ID)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
async def env(pg, province) -> AsyncIterator[Env]:
    url = await pg.create("identity_assurance")
    gw_url = await pg.create("gateway_assurance")
    async with identity_env(url) as e, realname_via_gateway(e, gw_url, province):
        yield e


def _verifier(env: Env) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, audience="ywtb-hub", jwks=env.core.keys.jwks)


async def _register(env: Env, id_number: str, name: str, password: str) -> httpx.Response:
    return await env.http.post(
        f"{ISSUER}/v1/register/natural",
        json={"id_number": id_number, "name": name, "password": password},
    )


async def _step_up(b: httpx.AsyncClient) -> httpx.Response:
    """Ask for L3 in a logged-in browser and accept the 实名核验 offer."""
    page = await b.get(
        f"{ISSUER}/authorize",
        params={
            "response_type": "code",
            "client_id": "portal",
            "redirect_uri": RP,
            "scope": "openid",
            "acr_values": "L3",
            "code_challenge": "a" * 43,
            "code_challenge_method": "S256",
        },
    )
    assert page.status_code == 200 and "实名核验" in page.text, page.text
    return await b.post(f"{ISSUER}/login/step-up", data=form_fields(page.text))


async def _claims(env: Env, id_number: str) -> int:
    from services.runtime.pii import citizen_id_ref

    async with env.core.db.sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(NaturalPerson)
                .where(NaturalPerson.id_no_index == citizen_id_ref(env.core.cipher, id_number))
            )
            or 0
        )


async def test_squatter_is_l2_and_cannot_block_or_follow_the_real_person(env, province) -> None:
    # A squatter registers first with 王五's ID number (names are no secret).
    first = await _register(env, REAL_ID, REAL_NAME, "squatter pass 1")
    assert first.status_code == 202
    async with browser(env) as squatter:
        early = await user_tokens(env, squatter, REAL_ID, "squatter pass 1")
        claims = await _verifier(env).verify(early["access_token"])
        # Trusted with nobody's data: the token says L2 (cases refuse personal data < L3).
        assert claims.acr == "L2" and claims.id_ref

        # The real person registers after the squatter: same answer, their own account.
        second = await _register(env, REAL_ID, REAL_NAME, "real person pass")
        assert second.status_code == 202 and second.json() == first.json()
        assert await _claims(env, REAL_ID) == 2
        async with browser(env) as real:
            mine = await user_tokens(env, real, REAL_ID, "real person pass")
            me = await _verifier(env).verify(mine["access_token"])
            assert me.subject != claims.subject and me.acr == "L2"
            calls = province.calls
            stepped = await _step_up(real)
            assert stepped.status_code == 303, stepped.text
            assert province.calls == calls + 1
            l3 = await user_tokens(env, real, REAL_ID, "real person pass", acr_values="L3")
            assert (await _verifier(env).verify(l3["access_token"])).acr == "L3"

        # Now the squatter's claim can never verify (the province is not even asked) …
        calls = province.calls
        refused = await _step_up(squatter)
        assert refused.status_code == 403 and "实名核验未通过" in refused.text
        assert province.calls == calls
    # … the ID number logs in to the verified account only …
    async with browser(env) as squatter_again:
        page = await squatter_again.get(
            f"{ISSUER}/authorize",
            params={
                "response_type": "code",
                "client_id": "portal",
                "redirect_uri": RP,
                "scope": "openid",
                "code_challenge": "b" * 43,
                "code_challenge_method": "S256",
            },
        )
        denied = await squatter_again.post(
            f"{ISSUER}/login",
            data={
                **form_fields(page.text),
                "username": REAL_ID,
                "password": "squatter pass 1",
            },
        )
        assert denied.status_code == 401
    # … and registering the verified number again creates nothing, with the same answer.
    third = await _register(env, REAL_ID, "冒名者", "another pass 1")
    assert third.status_code == 202 and third.json() == first.json()
    assert await _claims(env, REAL_ID) == 2
    async with env.core.db.sessionmaker() as session:
        verified = await accounts.verified_natural_account(session, env.core, REAL_ID)
    assert verified is not None and verified.id == me.subject and verified.level == "L3"


async def test_registration_does_not_enumerate_ids(env) -> None:
    """A verified ID, an unverified one, an unknown one: one answer (status and body)."""
    fresh = "110105198001010016"
    assert await _claims(env, fresh) == 0
    await mark_verified(env.core, CITIZEN_ID)
    answers = [
        await _register(env, number, "某人", "some password 1")
        for number in (CITIZEN_ID, OTHER_ID, fresh)
    ]
    assert {a.status_code for a in answers} == {202}
    assert len({a.text for a in answers}) == 1
    assert "sub" not in answers[0].json()
    # A phone in the body is not attached (only an SMS code proves possession).
    with_phone = await env.http.post(
        f"{ISSUER}/v1/register/natural",
        json={"id_number": fresh, "name": "某人", "password": "x password 1", "phone": PHONE},
    )
    assert with_phone.status_code == 202 and with_phone.text == answers[0].text
    bad = await _register(env, CITIZEN_ID[:-1] + "1", "某人", "some password 1")
    assert bad.status_code == 422  # the format is no secret


async def _bearer(env: Env, username: str, password: str, **params: str) -> dict[str, str]:
    async with browser(env) as b:
        tokens = await user_tokens(env, b, username, password, **params)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_legal_person_registration_needs_the_verified_representative(env, province) -> None:
    body = {"uscc": COMPANY, "name": COMPANY_NAME, "password": "company pass 1"}
    # A login at L2 is refused before the province is asked.
    await _register(env, OTHER_ID, "赵六", "zhao liu pass 1")
    l2 = await _bearer(env, OTHER_ID, "zhao liu pass 1")
    calls = province.legal_calls
    r = await env.http.post(f"{ISSUER}/v1/register/legal", json=body, headers=l2)
    assert r.status_code == 403 and r.json()["type"].endswith("/insufficient-assurance")
    assert province.legal_calls == calls
    # A verified natural person who is not the 法定代表人 is refused.
    await mark_verified(env.core, CITIZEN_ID)
    zhang = await _bearer(env, CITIZEN_ID, CITIZEN_PASSWORD)
    r = await env.http.post(f"{ISSUER}/v1/register/legal", json=body, headers=zhang)
    assert r.status_code == 403 and r.json()["type"].endswith("/legal-person-not-confirmed")
    assert province.legal_calls == calls + 1

    # The real representative (verified in the first test, else here).
    async with env.core.db.sessionmaker() as session:
        if await accounts.verified_natural_account(session, env.core, REAL_ID) is None:
            await _register(env, REAL_ID, REAL_NAME, "real person pass")
            await mark_verified(env.core, REAL_ID)
    wang = await _bearer(env, REAL_ID, "real person pass")
    unknown = valid_uscc("91440106MA5CXY799")
    for wrong in ({**body, "uscc": unknown}, {**body, "name": "别的公司"}):
        r = await env.http.post(f"{ISSUER}/v1/register/legal", json=wrong, headers=wang)
        assert r.status_code == 403 and r.json()["type"].endswith("/legal-person-not-confirmed")
    bad = await env.http.post(
        f"{ISSUER}/v1/register/legal", json={**body, "uscc": COMPANY[:-1] + "0"}, headers=wang
    )
    assert bad.status_code == 422
    ok = await env.http.post(f"{ISSUER}/v1/register/legal", json=body, headers=wang)
    assert ok.status_code == 201, ok.text
    assert ok.json()["sub_type"] == "legal" and ok.json()["level"] == "L3"
    again = await env.http.post(f"{ISSUER}/v1/register/legal", json=body, headers=wang)
    assert again.status_code == 409

    # Only the verified 法定代表人 grants 授权代办; the agent must be verified too.
    ends = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    grant: dict[str, Any] = {"agent_id_number": CITIZEN_ID, "scopes": [], "ends_at": ends}
    path = f"{ISSUER}/v1/legal-persons/{COMPANY}/delegations"
    assert (await env.http.post(path, json=grant, headers=zhang)).status_code == 403
    company = await _bearer(env, COMPANY, "company pass 1")
    assert (await env.http.post(path, json=grant, headers=company)).status_code == 403
    unverified = await env.http.post(
        path, json={**grant, "agent_id_number": OTHER_ID}, headers=wang
    )
    assert unverified.status_code == 404
    granted = await env.http.post(path, json=grant, headers=wang)
    assert granted.status_code == 201, granted.text
    # The legal person's own account may still list them.
    listed = await env.http.get(path, headers=company)
    assert listed.status_code == 200 and [g["id"] for g in listed.json()] == [granted.json()["id"]]


async def test_phone_is_attached_only_with_a_code(env) -> None:
    await _register(env, "110105194912310054", "钱七", "qian qi pass 1")
    qian = await _bearer(env, "110105194912310054", "qian qi pass 1")
    number = "13900139000"
    sent = await env.http.post(f"{ISSUER}/v1/me/phone", json={"phone": number}, headers=qian)
    assert sent.status_code == 202
    async with env.core.db.sessionmaker() as session:
        msg = (
            await session.scalars(
                select(LocalSmsMessage)
                .where(LocalSmsMessage.phone_masked == "139****9000")
                .order_by(LocalSmsMessage.id.desc())
            )
        ).first()
    assert msg is not None and "绑定手机" in msg.text
    code = msg.text.split("验证码为")[1][:6]
    wrong = "000000" if code != "000000" else "111111"
    bad = await env.http.post(
        f"{ISSUER}/v1/me/phone/confirm", json={"phone": number, "code": wrong}, headers=qian
    )
    assert bad.status_code == 400
    ok = await env.http.post(
        f"{ISSUER}/v1/me/phone/confirm", json={"phone": number, "code": code}, headers=qian
    )
    assert ok.status_code == 200 and ok.json() == {"phone_masked": "139****9000"}
    me = await env.http.get(f"{ISSUER}/v1/me", headers=qian)
    assert me.json()["phone"] == number


async def test_legal_adapter_refuses_bad_input_and_other_callers(env, province) -> None:
    gateway_transport = env.core.realname.transport  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=gateway_transport, base_url="http://gw") as c:
        token = env.core.realname._service_token()  # type: ignore[attr-defined]
        auth = {"Authorization": f"Bearer {token}"}
        path = "/api/adapters/realname/v1/verify-legal"
        body = {
            "uscc": COMPANY,
            "name": COMPANY_NAME,
            "representative_name": REAL_NAME,
            "representative_id_number": REAL_ID,
        }
        ok = await c.post(path, headers=auth, json=body)
        assert ok.status_code == 200 and ok.json()["match"] is True
        for change in (
            {"uscc": COMPANY[:-1] + ("0" if COMPANY[-1] != "0" else "1")},
            {"representative_id_number": REAL_ID[:-1] + "0"},
        ):
            bad = await c.post(path, headers=auth, json={**body, **change})
            assert bad.status_code == 422 and REAL_ID[:-1] not in bad.text
        county = (
            await env.http.post(
                f"{ISSUER}/token",
                auth=("county", env.secrets["county"]),
                data={"grant_type": "client_credentials"},
            )
        ).json()["access_token"]
        refused = await c.post(path, headers={"Authorization": f"Bearer {county}"}, json=body)
        assert refused.status_code == 403


async def test_account_name_outlasts_a_flood_of_claims(env, province) -> None:
    """A squatter floods an ID number with claims after the real person registered: the
    ID-number login tries only the newest few, but the real person's account name still
    opens exactly their account, and they verify."""
    number, name = "440106198505051236", "孙八"
    province.people[number] = name
    first = await env.http.post(
        f"{ISSUER}/v1/register/natural",
        json={"id_number": number, "name": name, "password": "sun ba pass 1", "username": "sunba"},
    )
    assert first.status_code == 202
    limit = env.core.settings.identity_login_id_candidates
    for i in range(limit + 1):
        assert (await _register(env, number, name, f"flood pass {i}")).status_code == 202
    async with browser(env) as b:
        page = await b.get(
            f"{ISSUER}/authorize",
            params={
                "response_type": "code",
                "client_id": "portal",
                "redirect_uri": RP,
                "scope": "openid",
                "code_challenge": "c" * 43,
                "code_challenge_method": "S256",
            },
        )
        fields = form_fields(page.text)
        by_number = await b.post(
            f"{ISSUER}/login", data={**fields, "username": number, "password": "sun ba pass 1"}
        )
        assert by_number.status_code == 401  # outside the newest claims tried
    async with browser(env) as b:
        await user_tokens(env, b, "sunba", "sun ba pass 1")
        assert (await _step_up(b)).status_code == 303
    taken = await env.http.post(
        f"{ISSUER}/v1/register/natural",
        json={"id_number": OTHER_ID, "name": "x", "password": "x password 1", "username": "sunba"},
    )
    assert taken.status_code == 409  # account names are no secret
    # Verified now: the ID number opens 孙八's account directly.
    async with browser(env) as b:
        tokens = await user_tokens(env, b, number, "sun ba pass 1")
        assert (await _verifier(env).verify(tokens["access_token"])).acr == "L3"
