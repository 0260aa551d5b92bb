"""Rate limits at the gateway (APISIX limit-count): in-process and against the real Redis
on 127.0.0.1:6379 (a unique key prefix per test), 429 problem+json with Retry-After and
the IETF RateLimit headers; Redis down fails open; the per-source SMS limit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from gateway.settings import RateRule
from hub.broker import free_port
from tests.gateway.policy_support import (
    UpstreamState,
    gateway_clients,
    policy_settings,
    run_upstream,
)
from tests.support.apps import migrate
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer

pytestmark = pytest.mark.asyncio(loop_scope="module")
REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, UpstreamState]]:
    with run_upstream() as up:
        yield up


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture(scope="module")
async def db_url(pg: DatabaseFactory) -> str:
    url = await pg.create("fd_limits")
    migrate("gateway", url)
    return url


@pytest.fixture
def prefix() -> Iterator[str]:
    value = f"test:{uuid.uuid4().hex}:"
    yield value
    r = redis.Redis.from_url(REDIS)
    for key in r.scan_iter(match=value + "*"):
        r.delete(key)
    r.close()


def settings(db_url: str, issuer: TestIssuer, upstream: str, **overrides: Any):  # type: ignore[no-untyped-def]
    return policy_settings(db_url, issuer, {"up": upstream, "identity": upstream}, **overrides)


THREE_PER_MINUTE = [RateRule(name="echo", path_prefix="/api/up/echo", limit=3, window=60)]


def assert_limited(r: httpx.Response, name: str, limit: int) -> dict[str, Any]:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"] == "application/problem+json"
    retry = int(r.headers["retry-after"])
    assert 1 <= retry <= 600
    assert r.headers["ratelimit-policy"].startswith(f'"{name}";q={limit};w=')
    assert r.headers["ratelimit"].startswith(f'"{name}";r=0;t=')
    body = r.json()
    assert body["type"].endswith("/rate-limited") and body["retry_after"] == retry
    assert body["request_id"] == r.headers["x-request-id"]
    return body


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_per_source_limit_answers_429_with_headers(
    backend: str,
    db_url: str,
    issuer: TestIssuer,
    upstream: tuple[str, UpstreamState],
    prefix: str,
) -> None:
    extra = {"redis_url": REDIS, "redis_key_prefix": prefix} if backend == "redis" else {}
    s = settings(db_url, issuer, upstream[0], rate_limits=THREE_PER_MINUTE, **extra)
    async with gateway_clients(s) as (_app, clients):
        a, b = clients("198.51.100.1"), clients("198.51.100.2")
        remaining = []
        for _ in range(3):
            r = await a.get("/api/up/echo")
            assert r.status_code == 200
            assert r.headers["ratelimit-policy"] == '"echo";q=3;w=60'
            remaining.append(r.headers["ratelimit"].split(";")[1])
        assert remaining == ["r=2", "r=1", "r=0"]
        assert_limited(await a.get("/api/up/echo"), "echo", 3)
        assert_limited(await a.post("/api/up/echo", json={}), "echo", 3)
        # Another source has its own budget; an unlimited route stays open.
        assert (await b.get("/api/up/echo")).status_code == 200
        assert (await a.get("/api/up/flaky")).status_code == 200
        assert "ratelimit" not in (await a.get("/api/up/flaky")).headers
    if backend == "redis":
        r = redis.Redis.from_url(REDIS)
        keys = sorted(k.decode() for k in r.scan_iter(match=prefix + "*"))
        r.close()
        assert keys == [
            f"{prefix}fd:rl:echo:ip:198.51.100.1",
            f"{prefix}fd:rl:echo:ip:198.51.100.2",
        ]


async def test_redis_counters_are_shared_by_gateway_processes(
    db_url: str, issuer: TestIssuer, upstream: tuple[str, UpstreamState], prefix: str
) -> None:
    s = settings(
        db_url,
        issuer,
        upstream[0],
        rate_limits=THREE_PER_MINUTE,
        redis_url=REDIS,
        redis_key_prefix=prefix,
    )
    async with gateway_clients(s) as (_a, first), gateway_clients(s) as (_b, second):
        for client in (first("203.0.113.1"), second("203.0.113.1"), first("203.0.113.1")):
            assert (await client.get("/api/up/echo")).status_code == 200
        assert_limited(await second("203.0.113.1").get("/api/up/echo"), "echo", 3)


async def test_client_limit_is_per_oauth_client(
    db_url: str, issuer: TestIssuer, upstream: tuple[str, UpstreamState]
) -> None:
    rule = RateRule(name="per-client", path_prefix="/api/up/", limit=2, window=60, key="client")
    s = settings(db_url, issuer, upstream[0], rate_limits=[rule])
    county_a = issuer.token(sub="county-a", sub_type="client", client_id="county-a")
    county_b = issuer.token(sub="county-b", sub_type="client", client_id="county-b")
    async with gateway_clients(s) as (_app, clients):
        gw = clients("127.0.0.1")
        for _ in range(2):
            r = await gw.get("/api/up/echo", headers={"authorization": f"Bearer {county_a}"})
            assert r.status_code == 200
        r = await gw.get("/api/up/echo", headers={"authorization": f"Bearer {county_a}"})
        assert_limited(r, "per-client", 2)
        # Same address, another client: its own quota.
        r = await gw.get("/api/up/echo", headers={"authorization": f"Bearer {county_b}"})
        assert r.status_code == 200


async def test_redis_down_fails_open_with_a_warning(
    db_url: str,
    issuer: TestIssuer,
    upstream: tuple[str, UpstreamState],
    capfd: pytest.CaptureFixture[str],
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    s = settings(db_url, issuer, upstream[0], rate_limits=THREE_PER_MINUTE, redis_url=dead)
    async with gateway_clients(s) as (_app, clients):
        gw = clients("198.51.100.9")
        statuses = [(await gw.get("/api/up/echo")).status_code for _ in range(5)]
    assert statuses == [200] * 5
    assert "counters unavailable, failing open" in capfd.readouterr().err


async def test_sms_codes_are_limited_per_source_by_default(
    db_url: str, issuer: TestIssuer, upstream: tuple[str, UpstreamState]
) -> None:
    async with gateway_clients(settings(db_url, issuer, upstream[0])) as (_app, clients):
        attacker, other = clients("203.0.113.50"), clients("203.0.113.51")
        form = {"phone": "13800000000", "csrf": "x"}
        for _ in range(5):
            r = await attacker.post("/api/identity/login/sms/send", data=form)
            assert r.status_code == 201, r.text
        assert_limited(await attacker.post("/api/identity/login/sms/send", data=form), "sms", 5)
        assert (await other.post("/api/identity/login/sms/send", data=form)).status_code == 201


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_every_matching_rule_counts_and_the_tightest_is_reported(
    backend: str,
    db_url: str,
    issuer: TestIssuer,
    upstream: tuple[str, UpstreamState],
    prefix: str,
) -> None:
    extra = {"redis_url": REDIS, "redis_key_prefix": prefix} if backend == "redis" else {}
    both = [
        RateRule(name="wide", path_prefix="/api/", limit=100, window=60, key="ip"),
        RateRule(name="client", path_prefix="/api/up/", limit=2, window=30, key="client"),
    ]
    token = issuer.token(sub="county-c", sub_type="client", client_id="county-c")
    s = settings(db_url, issuer, upstream[0], rate_limits=both, **extra)
    async with gateway_clients(s) as (_app, clients):
        gw = clients("198.51.100.30")
        auth = {"authorization": f"Bearer {token}"}
        r = await gw.get("/api/up/echo", headers=auth)
        assert r.headers["ratelimit-policy"] == '"client";q=2;w=30'
        assert r.headers["ratelimit"].startswith('"client";r=1;')
        await gw.get("/api/up/echo", headers=auth)
        assert_limited(await gw.get("/api/up/echo", headers=auth), "client", 2)
        # Without a token the client rule falls back to the address: a fresh counter.
        r = await gw.get("/api/up/echo")
        assert r.status_code == 200 and r.headers["ratelimit"].startswith('"client";r=1;')
    if backend == "redis":
        r = redis.Redis.from_url(REDIS)
        assert int(r.get(f"{prefix}fd:rl:wide:ip:198.51.100.30")) == 4
        assert int(r.get(f"{prefix}fd:rl:client:c:county-c")) == 3
        assert int(r.get(f"{prefix}fd:rl:client:ip:198.51.100.30")) == 1
        assert 0 < r.pttl(f"{prefix}fd:rl:client:c:county-c") <= 30_000
        r.close()
