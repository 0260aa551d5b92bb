"""Circuit breaker per upstream against a real stalled upstream (open → half-open probe →
closed, and a failed probe doubling the break), per-upstream pools so one slow upstream
cannot starve another, and 408 for a client that stalls while sending its body."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

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


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[str, UpstreamState, str, UpstreamState]]:
    with run_upstream() as (slow_url, slow), run_upstream() as (fast_url, fast):
        yield slow_url, slow, fast_url, fast


@pytest.fixture(scope="module")
async def db_url(pg: DatabaseFactory) -> str:
    url = await pg.create("fd_breaker")
    migrate("gateway", url)
    return url


def problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith(f"/{code}"), body
    return body


async def test_breaker_opens_probes_and_closes(
    db_url: str, upstreams: tuple[str, UpstreamState, str, UpstreamState]
) -> None:
    slow_url, slow, fast_url, _fast = upstreams
    s = policy_settings(
        db_url,
        TestIssuer(),
        {"slow": slow_url, "fast": fast_url},
        upstream_timeout=0.3,
        breaker_failures=3,
        breaker_base_seconds=1.0,
    )
    slow.mode, slow.calls = "stall", 0
    async with gateway_clients(s) as (_app, clients):
        gw = clients("127.0.0.1")
        for _ in range(3):
            problem(await gw.get("/api/slow/flaky"), 504, "upstream-timeout")
        assert slow.calls == 3
        # Open: answered at once, the upstream is not called.
        started = time.monotonic()
        r = await gw.get("/api/slow/flaky")
        assert time.monotonic() - started < 0.2
        problem(r, 503, "upstream-circuit-open")
        assert r.headers["retry-after"] == "1"
        assert slow.calls == 3
        # Other upstreams are not affected.
        assert (await gw.get("/api/fast/flaky")).status_code == 200

        # Half-open after the break: one probe; it fails (a 500) → a break twice as long.
        await asyncio.sleep(1.05)
        slow.mode = "fail"
        assert (await gw.get("/api/slow/flaky")).status_code == 500
        assert slow.calls == 4
        r = problem(await gw.get("/api/slow/flaky"), 503, "upstream-circuit-open")
        retry = int((await gw.get("/api/slow/flaky")).headers["retry-after"])
        assert retry == 2
        assert slow.calls == 4

        # The next probe succeeds: closed again, every call passes.
        await asyncio.sleep(2.05)
        slow.mode = "ok"
        for _ in range(3):
            assert (await gw.get("/api/slow/flaky")).status_code == 200
        assert slow.calls == 7


async def test_one_slow_upstream_cannot_take_every_connection(
    db_url: str, upstreams: tuple[str, UpstreamState, str, UpstreamState]
) -> None:
    slow_url, _slow, fast_url, _fast = upstreams
    s = policy_settings(
        db_url,
        TestIssuer(),
        {"slow": slow_url, "fast": fast_url},
        upstream_max_connections_per_service=2,
        upstream_connect_timeout=0.5,
    )
    async with gateway_clients(s) as (_app, clients):
        gw = clients("127.0.0.1")
        hogs = [asyncio.create_task(gw.get("/api/slow/slow?seconds=2")) for _ in range(2)]
        await asyncio.sleep(0.3)
        started = time.monotonic()
        assert (await gw.get("/api/fast/flaky")).status_code == 200
        assert time.monotonic() - started < 0.5
        # A third call to the slow upstream waits for its pool, then is told it is busy.
        r = await gw.get("/api/slow/slow?seconds=0")
        body = problem(r, 503, "upstream-busy")
        assert r.headers["retry-after"] == "1" and "busy" in body["detail"]
        assert [t.status_code for t in await asyncio.gather(*hogs)] == [200, 200]


async def test_a_stalled_upload_is_408(
    db_url: str, upstreams: tuple[str, UpstreamState, str, UpstreamState]
) -> None:
    _slow_url, _slow, fast_url, fast = upstreams
    s = policy_settings(db_url, TestIssuer(), {"fast": fast_url}, request_body_timeout=0.5)

    async def trickle() -> AsyncIterator[bytes]:
        yield b'{"a": '
        await asyncio.sleep(2)
        yield b"1}"

    async with gateway_clients(s) as (_app, clients):
        gw = clients("127.0.0.1")
        seen = len(fast.seen)
        started = time.monotonic()
        r = await gw.post(
            "/api/fast/echo",
            content=trickle(),
            headers={"content-type": "application/json", "content-length": "8"},
        )
        problem(r, 408, "body-timeout")
        assert time.monotonic() - started < 1.9
        # A healthy upload right after passes.
        r = await gw.post("/api/fast/echo", json={"a": 1})
        assert r.status_code == 201 and r.json()["length"] == 7
        # The upstream never got the stalled body whole: only the healthy call completed.
        assert len(fast.seen) == seen + 1
