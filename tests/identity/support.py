"""Helpers of the identity tests: an app on a fresh PostgreSQL database, a browser."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from html import unescape
from typing import Any

import httpx
from fastapi import FastAPI

from services.identity import accounts, clients
from services.identity.app import create_app
from services.identity.clients import ClientSpec
from services.identity.core import IdentityCore
from services.identity.settings import IdentitySettings
from tests.support.apps import migrate

# Loopback, so authlib's transport check passes without TLS (as for local runs).
ISSUER = "http://127.0.0.1:8001"
RP = "http://127.0.0.1:9000/callback"
RP2 = "http://127.0.0.1:9002/callback"
CITIZEN_ID = "11010519491231002X"
CITIZEN_PASSWORD = "correct horse 9"
PHONE = "13800138000"
USCC = "91440101MA59AB123R"


def valid_uscc(body17: str) -> str:
    from stdnum.cn import uscc

    return body17 + uscc.calc_check_digit(body17)


def settings_for(url: str, **extra: Any) -> IdentitySettings:
    values: dict[str, Any] = {
        "database_url": url,
        "kafka_enabled": False,
        "auth_issuer": ISSUER,
        "identity_argon2_memory_kib": 8 * 1024,  # tests: cheaper hashes, same code path
        "identity_argon2_time_cost": 1,
        "identity_realname_verifier": "none",
        "log_json": True,
    }
    values.update(extra)
    return IdentitySettings(**values)


@dataclass
class Env:
    app: FastAPI
    core: IdentityCore
    http: httpx.AsyncClient  # a "browser" (keeps cookies)
    secrets: dict[str, str]

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.app)


async def seed(core: IdentityCore) -> dict[str, str]:
    out: dict[str, str] = {}
    async with core.db.transaction() as session:
        await accounts.create_natural(
            session,
            core,
            id_number=CITIZEN_ID,
            name="张三",
            password=CITIZEN_PASSWORD,
            phone=PHONE,
        )
        for cid, uri in (("portal", RP), ("portal2", RP2)):
            await clients.create_client(
                session,
                ClientSpec(
                    client_id=cid,
                    name=cid,
                    public=True,
                    grant_types=["authorization_code", "refresh_token"],
                    scopes=["openid", "profile", "phone", "cases:read"],
                    redirect_uris=[uri],
                    post_logout_redirect_uris=[uri + "/bye"],
                ),
            )
        _, secret = await clients.create_client(
            session,
            ClientSpec(
                client_id="county",
                name="county",
                grant_types=["client_credentials"],
                scopes=["cases:push", "cases:read"],
            ),
        )
        out["county"] = secret or ""
        _, secret = await clients.create_client(
            session,
            ClientSpec(
                client_id="web",
                name="confidential web",
                grant_types=["authorization_code", "refresh_token"],
                scopes=["openid", "profile"],
                redirect_uris=[RP],
                can_introspect=True,
            ),
        )
        out["web"] = secret or ""
    return out


@asynccontextmanager
async def identity_env(url: str, **extra: Any) -> AsyncIterator[Env]:
    migrate("identity", url)
    app = create_app(settings_for(url, **extra.pop("settings", {})), **extra)
    async with app.router.lifespan_context(app):
        core: IdentityCore = app.state.hub.extras["identity"]
        secrets = await seed(core)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=ISSUER
        ) as http:
            yield Env(app=app, core=core, http=http, secrets=secrets)


def form_fields(html: str) -> dict[str, str]:
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)
    return {k: unescape(v) for k, v in found}


async def login_via_form(
    browser: httpx.AsyncClient, authorize_url: str, username: str, password: str
) -> httpx.Response:
    """Drive the HTML login: GET authorize → form → POST → follow to the code redirect."""
    page = await browser.get(authorize_url)
    assert page.status_code == 200, page.text
    assert 'name="username"' in page.text and 'name="password"' in page.text
    fields = form_fields(page.text)
    posted = await browser.post(
        f"{ISSUER}/login", data={**fields, "username": username, "password": password}
    )
    if posted.status_code != 303:
        return posted
    return await browser.get(posted.headers["location"])


async def user_tokens(
    env: Env,
    browser: httpx.AsyncClient,
    username: str,
    password: str,
    *,
    client_id: str = "portal",
    redirect_uri: str = RP,
    scope: str = "openid profile",
    **params: str,
) -> dict[str, Any]:
    """Code + PKCE for one user in ``browser`` (logging in when the browser must)."""
    from authlib.common.security import generate_token
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    verifier = generate_token(48)
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": "s",
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
        **params,
    }
    url = f"{ISSUER}/authorize?{httpx.QueryParams(query)}"
    response = await browser.get(url)
    if response.status_code == 200:
        response = await login_via_form(browser, url, username, password)
    assert response.status_code == 302, response.text
    location = httpx.URL(response.headers["location"])
    assert "code" in location.params, str(location)
    token = await browser.post(
        f"{ISSUER}/token",
        data={
            "grant_type": "authorization_code",
            "code": location.params["code"],
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.text
    return dict(token.json())


def browser(env: Env) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=env.transport(), base_url=ISSUER)


async def mark_verified(core: IdentityCore, id_number: str) -> str:
    """As if the holder of ``id_number`` (its newest claim) had passed 实名核验: L3."""
    from services.identity.store.tables import NaturalPerson
    from services.runtime.db import utcnow

    async with core.db.transaction() as session:
        acc = await accounts.find_by_username(session, core, id_number)
        assert acc is not None
        person = await session.get(NaturalPerson, acc.id)
        assert person is not None
        person.realname_verified_at = utcnow()
        acc.level = "L3"
        return acc.id


REALNAME_ADAPTER = "http://gateway.test/api/adapters/realname/v1/verify"


@asynccontextmanager
async def realname_via_gateway(
    env: Env, gateway_db_url: str, province: Any
) -> AsyncIterator[FastAPI]:
    """实名核验 as in production: identity → the real gateway adapter (in process) → the
    province simulator; yields the gateway app. ``gateway_db_url`` is a fresh database
    (migrated here)."""
    import json

    from gateway.app import create_app as create_gateway
    from gateway.settings import GatewaySettings
    from services.identity.realname import GatewayRealNameVerifier

    migrate("gateway", gateway_db_url)
    gw = create_gateway(
        GatewaySettings(
            database_url=gateway_db_url,
            kafka_enabled=False,
            auth_issuer=ISSUER,
            auth_jwks=json.dumps(env.core.keys.jwks),
            realname_province_url=province.url,
            realname_app_key=province.app_key,
            realname_app_secret=province.app_secret,
        )
    )
    async with gw.router.lifespan_context(gw):
        env.core.realname = GatewayRealNameVerifier(
            env.core, REALNAME_ADAPTER, 5, transport=httpx.ASGITransport(app=gw)
        )
        yield gw
