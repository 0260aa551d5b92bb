"""Identity behind the real gateway: real processes (identity, gateway), PostgreSQL, the
broker and the province 实名核验 simulator. An OIDC client library (authlib) does
discovery at ``<gateway>/api/identity``, code + PKCE through the HTML login form (cookies,
redirects and CSRF behind the prefix), step-up to L3 (identity → gateway adapter →
province), ID token against the JWKS fetched through the gateway, userinfo, refresh,
logout; then client credentials for the county client and the gateway's own intake."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oidc.core.util import create_half_hash
from joserfc import jwt
from joserfc.jwk import KeySet

from hub.broker import LocalBroker
from hub.onboarding import DEMO_COUNTY_ORGS, register_demo_county
from services.identity import seed
from tests.peers.county_system import REST_PATH, County, CountySystem
from tests.peers.province_realname import Company, ProvinceRealName
from tests.support.apps import migrate
from tests.support.postgres import DatabaseFactory
from tests.support.processes import AppProcess

GATEWAY_SECRET = "e2e-gateway-introspection-secret"

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
PROBLEM = "application/problem+json"
REAL_ID = "440106199001011235"
REAL_NAME = "王五"
COMPANY = "91440106MA5CXY7124"  # in the legal-person base, 法定代表人 王五
COMPANY_NAME = "广州天河示例有限公司"


@dataclass
class Stack:
    identity: AppProcess
    gateway: AppProcess
    province: ProvinceRealName

    @property
    def issuer(self) -> str:
        return f"{self.gateway.url}/api/identity"


@pytest.fixture(scope="module")
def stack(pg: DatabaseFactory, broker: LocalBroker, log_dir: Path) -> Iterator[Stack]:
    province = ProvinceRealName()
    province.people[seed.CITIZEN_ID] = "张三"
    province.people[REAL_ID] = REAL_NAME
    province.companies[COMPANY] = Company(COMPANY_NAME, REAL_NAME, REAL_ID)
    province.start()
    identity_db = pg.create_sync("e2e_idgw_identity")
    gateway_db = pg.create_sync("e2e_idgw_gateway")
    migrate("identity", identity_db)
    migrate("gateway", gateway_db)
    # The demo data `make run` seeds: portal client, county client, citizen 张三.
    asyncio.run(seed.seed_demo(identity_db))
    # What `make run` adds: the demo county registered at the gateway for its orgs, and
    # the gateway's own client at identity to check that tokens are still active.
    asyncio.run(register_demo_county(gateway_db))
    asyncio.run(seed.ensure_service_client(identity_db, GATEWAY_SECRET))
    gateway_client = seed.SERVICE_CLIENT_ID
    identity = AppProcess("identity", "services.identity.app:create_app", {}, log_dir)
    gateway = AppProcess("gateway", "gateway.app:create_app", {}, log_dir)
    issuer = f"{gateway.url}/api/identity"
    identity.env = {
        "HUB_DATABASE_URL": identity_db,
        "HUB_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "HUB_AUTH_ISSUER": issuer,
        # 实名核验 goes through the gateway adapter (<public base>/api/adapters/realname/…)
        "HUB_PUBLIC_BASE_URL": gateway.url,
    }
    gateway.env = {
        "HUB_DATABASE_URL": gateway_db,
        "HUB_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "HUB_AUTH_ISSUER": issuer,
        "HUB_AUTH_JWKS_URL": f"{identity.url}/jwks",
        "HUB_AUTH_CLIENT_ID": gateway_client,
        "HUB_AUTH_CLIENT_SECRET": GATEWAY_SECRET,
        "HUB_UPSTREAMS": json.dumps({"identity": identity.url}),
        "HUB_REALNAME_PROVINCE_URL": province.url,
        "HUB_REALNAME_APP_KEY": province.app_key,
        "HUB_REALNAME_APP_SECRET": province.app_secret,
    }
    try:
        identity.start(wait="")
        gateway.start(wait="")
        identity.wait_http("/readyz", timeout=60)
        gateway.wait_http("/readyz", timeout=60)
        yield Stack(identity, gateway, province)
    finally:
        gateway.stop()
        identity.stop()
        province.stop()
        for proc in (identity, gateway):
            for number in (seed.CITIZEN_ID, REAL_ID):
                assert number not in proc.log_text(), f"full ID number in {proc.name} log"


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _form(html: str) -> tuple[str, dict[str, str]]:
    """The first form of a page: its action and hidden fields."""
    import re
    from html import unescape

    action = re.search(r'<form method="post" action="([^"]+)">', html)
    assert action is not None, html
    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)
    return unescape(action.group(1)), {k: unescape(v) for k, v in hidden}


def _cookie_paths(response: httpx.Response) -> dict[str, str]:
    out = {}
    for header in response.headers.get_list("set-cookie"):
        name = header.split("=", 1)[0]
        attrs = {
            a.split("=", 1)[0].strip().lower(): a.split("=", 1)[-1].strip()
            for a in header.split(";")[1:]
        }
        out[name] = attrs.get("path", "")
    return out


async def test_portal_flow_through_the_gateway(stack: Stack) -> None:
    iss = stack.issuer
    rp = AsyncOAuth2Client(
        client_id=seed.PORTAL_ID,
        redirect_uri=seed.PORTAL_REDIRECT,
        scope="openid profile cases:read",
        code_challenge_method="S256",
        timeout=15,
    )
    async with rp, httpx.AsyncClient(timeout=15) as browser:
        meta = (
            await rp.request("GET", f"{iss}/.well-known/openid-configuration", withhold_token=True)
        ).json()
        assert meta["issuer"] == iss
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
            assert meta[key].startswith(iss + "/"), key

        # -- authorization code + PKCE, driving the HTML login form via the gateway ----
        verifier, nonce = generate_token(48), generate_token(16)
        auth_url, state = rp.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        page = await browser.get(auth_url)
        assert page.status_code == 200 and 'name="password"' in page.text
        assert _cookie_paths(page) == {"hub_csrf": "/api/identity"}
        action, fields = _form(page.text)
        assert action == f"{iss}/login"
        # Without the CSRF cookie the form is refused.
        async with httpx.AsyncClient(timeout=15) as stranger:
            forged = await stranger.post(
                action, data={**fields, "username": seed.CITIZEN_ID, "password": "x"}
            )
            assert forged.status_code == 400 and "hub_sso" not in forged.headers.get(
                "set-cookie", ""
            )
        posted = await browser.post(
            action,
            data={**fields, "username": seed.CITIZEN_ID, "password": seed.CITIZEN_PASSWORD},
        )
        assert posted.status_code == 303, posted.text
        assert posted.headers["location"].startswith(f"{iss}/authorize?")
        assert _cookie_paths(posted) == {"hub_sso": "/api/identity"}
        landing = await browser.get(posted.headers["location"])
        assert landing.status_code == 302, landing.text
        callback = landing.headers["location"]
        assert callback.startswith(seed.PORTAL_REDIRECT + "?")
        assert _query(callback)["state"] == state

        token = await rp.fetch_token(
            meta["token_endpoint"], authorization_response=callback, code_verifier=verifier
        )
        jwks = KeySet.import_key_set(
            (await rp.request("GET", meta["jwks_uri"], withhold_token=True)).json()
        )
        claims = jwt.decode(token["id_token"], jwks, algorithms=["ES256"]).claims
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": iss},
            aud={"essential": True, "value": seed.PORTAL_ID},
            nonce={"essential": True, "value": nonce},
            exp={"essential": True},
        ).validate(claims)
        assert claims["at_hash"] == create_half_hash(token["access_token"], "ES256").decode()
        # The demo citizen is verified (L3) by the seed, like `make run`.
        assert claims["acr"] == "L3" and claims["sub_type"] == "natural"
        access = jwt.decode(token["access_token"], jwks).claims
        assert access["iss"] == iss and access["scope"] == "openid profile cases:read"

        info = await rp.get(meta["userinfo_endpoint"])
        assert info.status_code == 200 and info.json()["sub"] == claims["sub"]
        assert info.json()["id_number_masked"] == "1101**********002X"

        refreshed = await rp.refresh_token(meta["token_endpoint"])
        assert refreshed["access_token"] != token["access_token"]
        again = jwt.decode(refreshed["id_token"], jwks).claims
        assert again["sub"] == claims["sub"] and again["auth_time"] == claims["auth_time"]
        assert (await rp.get(meta["userinfo_endpoint"])).status_code == 200

        # -- an L3 request: the verified session answers at once (no province call) ------
        v3 = generate_token(48)
        url3, _ = rp.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=v3, acr_values="L3"
        )
        calls = stack.province.calls
        code3 = await browser.get(url3)
        assert code3.status_code == 302 and "code=" in code3.headers["location"]
        assert stack.province.calls == calls
        l3 = await rp.fetch_token(
            meta["token_endpoint"],
            authorization_response=code3.headers["location"],
            code_verifier=v3,
        )
        assert jwt.decode(l3["id_token"], jwks).claims["acr"] == "L3"

        # -- RP-initiated logout through the gateway ------------------------------------
        out = await browser.get(
            meta["end_session_endpoint"],
            params={
                "id_token_hint": l3["id_token"],
                "post_logout_redirect_uri": "http://127.0.0.1:8080/",
                "state": "bye",
            },
        )
        assert (
            out.status_code == 302 and out.headers["location"] == "http://127.0.0.1:8080/?state=bye"
        )
        assert _cookie_paths(out) == {"hub_sso": "/api/identity"}
        assert "hub_sso" not in browser.cookies
        after = await rp.get(meta["userinfo_endpoint"])
        assert after.status_code == 401
        fresh_url, _ = rp.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=generate_token(48)
        )
        relogin = await browser.get(fresh_url)
        assert relogin.status_code == 200 and 'name="password"' in relogin.text


async def test_county_client_credentials_accepted_by_gateway_intake(stack: Stack) -> None:
    iss = stack.issuer
    county = AsyncOAuth2Client(
        client_id=seed.COUNTY_ID, client_secret=seed.COUNTY_SECRET, scope="cases:push", timeout=15
    )
    async with county:
        meta = (
            await county.request(
                "GET", f"{iss}/.well-known/openid-configuration", withhold_token=True
            )
        ).json()
        token: dict[str, Any] = await county.fetch_token(
            meta["token_endpoint"], grant_type="client_credentials"
        )
        assert token["scope"] == "cases:push" and "refresh_token" not in token
        intake = f"{stack.gateway.url}{REST_PATH}"

        empty = await county.post(intake, json={"events": []})
        assert empty.status_code == 422, empty.text  # past authentication: the body is judged
        assert empty.headers["content-type"].startswith(PROBLEM)

        demo = County("示例区县", "440200", seed.COUNTY_ID, bureau_uscc=DEMO_COUNTY_ORGS[0])
        events = CountySystem(demo, seed=31).stream(1)
        pushed = await county.post(intake, json={"events": events})
        assert pushed.status_code == 202, pushed.text
        assert pushed.json()["accepted"] == len(events)

    async with httpx.AsyncClient(timeout=15) as anonymous:
        refused = await anonymous.post(
            f"{stack.gateway.url}{REST_PATH}",
            json={"events": []},
            headers={"Authorization": f"Bearer {token['access_token']}x"},
        )
        assert refused.status_code == 401
        wrong_secret = await anonymous.post(
            f"{iss}/token",
            auth=(seed.COUNTY_ID, "not-the-secret"),
            data={"grant_type": "client_credentials"},
        )
        assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"


async def _portal_login(
    stack: Stack, browser: httpx.AsyncClient, username: str, password: str, **params: str
) -> httpx.Response:
    """Authorization request through the gateway; log in on the form if one is shown.
    Returns the last response (a redirect to the portal, or the page that refused)."""
    iss = stack.issuer
    query = {
        "response_type": "code",
        "client_id": seed.PORTAL_ID,
        "redirect_uri": seed.PORTAL_REDIRECT,
        "scope": "openid profile",
        "code_challenge": generate_token(43),
        "code_challenge_method": "S256",
        **params,
    }
    page = await browser.get(f"{iss}/authorize", params=query)
    if page.status_code != 200 or 'name="password"' not in page.text:
        return page
    action, fields = _form(page.text)
    posted = await browser.post(action, data={**fields, "username": username, "password": password})
    if posted.status_code != 303:
        return posted
    return await browser.get(posted.headers["location"])


async def test_squatter_real_person_and_legal_person_through_the_gateway(stack: Stack) -> None:
    """Registration through the gateway: a squatter's claim of 王五's ID number stays L2
    and cannot verify once 王五 has; 王五 verifies (step-up via the adapter and the
    province) and registers his company against the legal-person base."""
    iss = stack.issuer
    async with httpx.AsyncClient(timeout=15) as api:
        register = f"{iss}/v1/register/natural"
        squat = await api.post(
            register, json={"id_number": REAL_ID, "name": REAL_NAME, "password": "squat pass 1"}
        )
        real = await api.post(
            register, json={"id_number": REAL_ID, "name": REAL_NAME, "password": "wang wu pass"}
        )
        assert squat.status_code == real.status_code == 202 and squat.text == real.text

    async with httpx.AsyncClient(timeout=15) as wang:
        landed = await _portal_login(stack, wang, REAL_ID, "wang wu pass")
        assert landed.status_code == 302 and "code=" in landed.headers["location"]
        # Asking for L3 offers 实名核验: identity → gateway adapter → province.
        offer = await _portal_login(stack, wang, REAL_ID, "wang wu pass", acr_values="L3")
        assert offer.status_code == 200 and "实名核验" in offer.text
        action, fields = _form(offer.text)
        calls = stack.province.calls
        raised = await wang.post(action, data=fields)
        assert raised.status_code == 303, raised.text
        assert stack.province.calls == calls + 1
        code = await wang.get(raised.headers["location"])
        assert code.status_code == 302 and "code=" in code.headers["location"]
        # The session is L3 now: a client library fetches an L3 token without a form.
        rp = AsyncOAuth2Client(
            client_id=seed.PORTAL_ID,
            redirect_uri=seed.PORTAL_REDIRECT,
            scope="openid profile",
            code_challenge_method="S256",
            timeout=15,
        )
        async with rp:
            v = generate_token(48)
            url, _ = rp.create_authorization_url(
                f"{iss}/authorize", code_verifier=v, acr_values="L3"
            )
            direct = await wang.get(url)
            assert direct.status_code == 302
            token = await rp.fetch_token(
                f"{iss}/token", authorization_response=direct.headers["location"], code_verifier=v
            )
        access = jwt.decode(
            token["access_token"], KeySet.import_key_set((await wang.get(f"{iss}/jwks")).json())
        ).claims
        assert access["acr"] == "L3" and access["sub_type"] == "natural"

        # 王五 registers his company: the legal-person base confirms USCC, name and him.
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        legal_calls = stack.province.legal_calls
        wrong = await wang.post(
            f"{iss}/v1/register/legal", json={"uscc": COMPANY, "name": "别的公司"}, headers=auth
        )
        assert wrong.status_code == 403 and wrong.headers["content-type"].startswith(PROBLEM)
        company = await wang.post(
            f"{iss}/v1/register/legal", json={"uscc": COMPANY, "name": COMPANY_NAME}, headers=auth
        )
        assert company.status_code == 201, company.text
        assert company.json()["level"] == "L3"
        assert stack.province.legal_calls == legal_calls + 2

    # The squatter's password no longer opens anything under that ID number.
    async with httpx.AsyncClient(timeout=15) as squatter:
        refused = await _portal_login(stack, squatter, REAL_ID, "squat pass 1")
        assert refused.status_code == 401
