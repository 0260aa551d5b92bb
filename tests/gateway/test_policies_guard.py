"""Credential-guessing guard with the real identity service behind the real gateway
(processes, PostgreSQL, the broker): 60 wrong client secrets from one source meet 429s long
before the end, the victim client still gets its token from elsewhere, and the login pages
come with a strict CSP. Sources are told apart with X-Forwarded-For from a trusted proxy
(the test client, on loopback), which is also how a real deployment behind a load
balancer sees them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.broker import LocalBroker
from services.identity import seed
from tests.support.apps import migrate
from tests.support.postgres import DatabaseFactory
from tests.support.processes import AppProcess

pytestmark = pytest.mark.e2e
ATTACKER = "203.0.113.66"
VICTIM = "198.51.100.20"


@pytest.fixture(scope="module")
def stack(pg: DatabaseFactory, broker: LocalBroker, log_dir: Path) -> Iterator[AppProcess]:
    identity_db = pg.create_sync("fd_guard_identity")
    gateway_db = pg.create_sync("fd_guard_gateway")
    migrate("identity", identity_db)
    migrate("gateway", gateway_db)
    asyncio.run(seed.seed_demo(identity_db))
    identity = AppProcess("identity", "services.identity.app:create_app", {}, log_dir)
    gateway = AppProcess("gateway", "gateway.app:create_app", {}, log_dir)
    issuer = f"{gateway.url}/api/identity"
    identity.env = {
        "HUB_DATABASE_URL": identity_db,
        "HUB_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "HUB_AUTH_ISSUER": issuer,
        "HUB_PUBLIC_BASE_URL": gateway.url,
    }
    gateway.env = {
        "HUB_DATABASE_URL": gateway_db,
        "HUB_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "HUB_AUTH_ISSUER": issuer,
        "HUB_AUTH_JWKS_URL": f"{identity.url}/jwks",
        "HUB_UPSTREAMS": json.dumps({"identity": identity.url}),
        "HUB_TRUSTED_PROXIES": "127.0.0.1/32",
    }
    try:
        identity.start(wait="")
        gateway.start(wait="")
        identity.wait_http("/readyz", timeout=60)
        gateway.wait_http("/readyz", timeout=60)
        yield gateway
    finally:
        gateway.stop()
        identity.stop()


def token_call(gw: str, secret: str, source: str) -> httpx.Response:
    return httpx.post(
        f"{gw}/api/identity/token",
        data={"grant_type": "client_credentials", "scope": "cases:push"},
        auth=(seed.COUNTY_ID, secret),
        headers={"x-forwarded-for": source},
        timeout=15,
    )


def test_guessing_client_secrets_is_throttled_at_the_source(stack: AppProcess) -> None:
    gw = stack.url
    statuses = [token_call(gw, f"wrong-{i}", ATTACKER).status_code for i in range(60)]
    first_429 = statuses.index(429)
    assert set(statuses[:first_429]) == {401}
    assert first_429 == 20  # HUB_GUARD_MAX_FAILURES, default
    assert set(statuses[first_429:]) == {429}
    refused = token_call(gw, seed.COUNTY_SECRET, ATTACKER)  # even the right secret, now
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/too-many-failures")
    assert 250 <= int(refused.headers["retry-after"]) <= 300
    # The victim is not locked out: from its own address its secret works.
    ok = token_call(gw, seed.COUNTY_SECRET, VICTIM)
    assert ok.status_code == 200, ok.text
    assert ok.json()["token_type"].lower() == "bearer"
    # Successes do not count: the victim keeps getting tokens.
    assert all(token_call(gw, seed.COUNTY_SECRET, VICTIM).status_code == 200 for _ in range(25))


def test_sms_codes_are_limited_per_source(stack: AppProcess) -> None:
    statuses = [
        httpx.post(
            f"{stack.url}/api/identity/login/sms/send",
            data={"phone": "13800138000"},
            headers={"x-forwarded-for": "203.0.113.77"},
            timeout=15,
        ).status_code
        for _ in range(7)
    ]
    assert 429 not in statuses[:5] and statuses[5:] == [429, 429]


def test_login_pages_carry_a_strict_csp(stack: AppProcess) -> None:
    r = httpx.get(
        f"{stack.url}/api/identity/authorize",
        params={
            "client_id": seed.PORTAL_ID,
            "response_type": "code",
            "redirect_uri": seed.PORTAL_REDIRECT,
            "scope": "openid",
            "state": "s1",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
        follow_redirects=True,
        timeout=15,
    )
    assert r.headers["content-type"].startswith("text/html"), r.text
    assert '<form method="post"' in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "<script" not in r.text  # nothing the policy would block
    assert r.headers["x-content-type-options"] == "nosniff"
