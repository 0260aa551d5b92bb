"""Revocation and the assurance gate through real processes: identity, cases and the
gateway on PostgreSQL, the services checking tokens with the `hub-services` client as
`make run` configures them. The demo citizen logs in through the gateway (code + PKCE,
HTML form): at L2 the cases read is a step-up 403; at L3 it is 200; after an RFC 7009
revocation, and after logout, the very next read is 401."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import update

from hub.broker import LocalBroker
from services.identity import seed
from services.identity.store.tables import Account
from services.runtime.db import Database
from tests.e2e.test_identity_gateway import _form
from tests.support.apps import migrate
from tests.support.postgres import DatabaseFactory
from tests.support.processes import AppProcess

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
PROBLEM = "application/problem+json"


@dataclass
class Stack:
    gateway: AppProcess
    identity_db: str

    @property
    def issuer(self) -> str:
        return f"{self.gateway.url}/api/identity"

    @property
    def cases(self) -> str:
        return f"{self.gateway.url}/api/cases/v1/me/cases"


@pytest.fixture(scope="module")
def stack(pg: DatabaseFactory, broker: LocalBroker, log_dir: Path) -> Iterator[Stack]:
    dbs = {name: pg.create_sync(f"e2e_revoke_{name}") for name in ("identity", "cases", "gateway")}
    for name, url in dbs.items():
        migrate(name, url)
    asyncio.run(seed.seed_demo(dbs["identity"]))
    service_secret = secrets.token_urlsafe(24)
    asyncio.run(seed.ensure_service_client(dbs["identity"], service_secret))
    identity = AppProcess("identity", "services.identity.app:create_app", {}, log_dir)
    cases = AppProcess("cases", "services.cases.app:create_app", {}, log_dir)
    gateway = AppProcess("gateway", "gateway.app:create_app", {}, log_dir)
    issuer = f"{gateway.url}/api/identity"
    resource = {
        "HUB_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "HUB_AUTH_ISSUER": issuer,
        "HUB_AUTH_JWKS_URL": f"{identity.url}/jwks",  # introspection next to it
        "HUB_AUTH_CLIENT_ID": seed.SERVICE_CLIENT_ID,
        "HUB_AUTH_CLIENT_SECRET": service_secret,
    }
    identity.env = {
        "HUB_DATABASE_URL": dbs["identity"],
        "HUB_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "HUB_AUTH_ISSUER": issuer,
        "HUB_PUBLIC_BASE_URL": gateway.url,
    }
    cases.env = {**resource, "HUB_DATABASE_URL": dbs["cases"]}
    gateway.env = {
        **resource,
        "HUB_DATABASE_URL": dbs["gateway"],
        "HUB_UPSTREAMS": json.dumps({"identity": identity.url, "cases": cases.url}),
        "HUB_INTAKE_POLL_INTERVAL": "3600",
    }
    procs = (identity, cases, gateway)
    try:
        for p in procs:
            p.start(wait="")
        for p in procs:
            p.wait_http("/readyz", timeout=90)
        yield Stack(gateway, dbs["identity"])
    finally:
        for p in reversed(procs):
            p.stop()
        for p in procs:
            assert seed.CITIZEN_ID not in p.log_text(), f"full ID number in {p.name} log"


async def set_level(url: str, level: str) -> None:
    db = Database(url)
    try:
        async with db.transaction() as session:
            # The demo citizen (the only natural person the seed makes).
            await session.execute(
                update(Account).where(Account.kind == "natural").values(level=level)
            )
    finally:
        await db.dispose()


async def login(issuer: str, browser: httpx.AsyncClient, *, fresh: bool) -> dict[str, str]:
    """Code + PKCE for the demo portal; ``fresh`` forces the password form."""
    verifier = generate_token(48)
    params = {
        "response_type": "code",
        "client_id": seed.PORTAL_ID,
        "redirect_uri": seed.PORTAL_REDIRECT,
        "scope": "openid cases:read",
        "state": "s",
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    if fresh:
        params["prompt"] = "login"
    page = await browser.get(f"{issuer}/authorize", params=params)
    if page.status_code == 200:
        action, fields = _form(page.text)
        posted = await browser.post(
            action,
            data={**fields, "username": seed.CITIZEN_ID, "password": seed.CITIZEN_PASSWORD},
        )
        assert posted.status_code == 303, posted.text
        page = await browser.get(posted.headers["location"])
    assert page.status_code == 302, page.text
    code = httpx.URL(page.headers["location"]).params["code"]
    token = await browser.post(
        f"{issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": seed.PORTAL_REDIRECT,
            "client_id": seed.PORTAL_ID,
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.text
    return token.json()


async def test_l2_steps_up_and_revocation_and_logout_end_access_at_once(stack: Stack) -> None:
    await set_level(stack.identity_db, "L2")  # not (yet) verified, whatever the seed says
    async with httpx.AsyncClient(timeout=15) as browser:
        l2 = await login(stack.issuer, browser, fresh=True)
        refused = await browser.get(
            stack.cases, headers={"Authorization": f"Bearer {l2['access_token']}"}
        )
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith(PROBLEM)
        assert refused.json()["type"].endswith("/insufficient-assurance")
        assert 'acr_values="L3"' in refused.headers["www-authenticate"]

        await set_level(stack.identity_db, "L3")  # as after 实名核验
        tokens = await login(stack.issuer, browser, fresh=True)
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        ok = await browser.get(stack.cases, headers=auth)
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"items": [], "next_cursor": None}

        revoked = await browser.post(
            f"{stack.issuer}/revoke",
            data={"token": tokens["access_token"], "client_id": seed.PORTAL_ID},
        )
        assert revoked.status_code == 200
        after = await browser.get(stack.cases, headers=auth)
        assert after.status_code == 401, after.text
        assert after.headers["content-type"].startswith(PROBLEM)
        assert 'error="invalid_token"' in after.headers["www-authenticate"]

        # A new token of the same SSO session, then logout: refused on the next read.
        again = await login(stack.issuer, browser, fresh=False)
        auth = {"Authorization": f"Bearer {again['access_token']}"}
        assert (await browser.get(stack.cases, headers=auth)).status_code == 200
        out = await browser.get(f"{stack.issuer}/logout")
        assert out.status_code == 200
        assert (await browser.get(stack.cases, headers=auth)).status_code == 401
