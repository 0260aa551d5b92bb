"""The gateway's edge: CORS for portal origins (preflight allowed / refused), security
headers on every answer (HSTS only on an https public URL, CSP on HTML), X-Forwarded-*
trusted only from configured proxies, and a GET/HEAD/DELETE with a body never a 500."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from gateway.app import create_app
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
PORTAL = "https://portal.example.gov.cn"


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, UpstreamState]]:
    with run_upstream() as up:
        yield up


@pytest.fixture(scope="module")
async def db_url(pg: DatabaseFactory) -> str:
    url = await pg.create("fd_edge")
    migrate("gateway", url)
    return url


def settings(db_url: str, upstream: str, **overrides: Any):  # type: ignore[no-untyped-def]
    return policy_settings(
        db_url, TestIssuer(), {"up": upstream}, cors_origins=[PORTAL], **overrides
    )


async def test_cors_preflight_for_a_portal_origin(
    db_url: str, upstream: tuple[str, UpstreamState]
) -> None:
    async with gateway_clients(settings(db_url, upstream[0])) as (_app, clients):
        gw = clients()
        r = await gw.options(
            "/api/up/echo",
            headers={
                "origin": PORTAL,
                "access-control-request-method": "POST",
                "access-control-request-headers": "Authorization, Content-Type, Idempotency-Key",
            },
        )
        assert r.status_code == 204
        assert r.headers["access-control-allow-origin"] == PORTAL
        assert "POST" in r.headers["access-control-allow-methods"]
        assert r.headers["access-control-allow-headers"] == (
            "authorization, content-type, idempotency-key"
        )
        assert r.headers["vary"] == "Origin"
        # The actual call carries the origin back and exposes the limit headers.
        r = await gw.get("/api/up/echo", headers={"origin": PORTAL})
        assert r.headers["access-control-allow-origin"] == PORTAL
        assert "RateLimit" in r.headers["access-control-expose-headers"]


@pytest.mark.parametrize(
    "origin,method,headers",
    [
        ("https://evil.example.com", "POST", "content-type"),
        (PORTAL, "TRACE", ""),
        (PORTAL, "POST", "x-smuggle"),
    ],
)
async def test_cors_preflight_refused(
    db_url: str, upstream: tuple[str, UpstreamState], origin: str, method: str, headers: str
) -> None:
    async with gateway_clients(settings(db_url, upstream[0])) as (_app, clients):
        gw = clients()
        r = await gw.options(
            "/api/up/echo",
            headers={
                "origin": origin,
                "access-control-request-method": method,
                "access-control-request-headers": headers,
            },
        )
        assert r.status_code == 403
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/cors-refused")
        assert "access-control-allow-origin" not in r.headers
        r = await gw.get("/api/up/echo", headers={"origin": "https://evil.example.com"})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


async def test_security_headers_on_every_answer(
    db_url: str, upstream: tuple[str, UpstreamState]
) -> None:
    async with gateway_clients(settings(db_url, upstream[0])) as (_app, clients):
        gw = clients()
        for r in (
            await gw.get("/api/up/echo"),
            await gw.get("/api/nosuch/x"),  # a gateway problem
            await gw.get("/healthz"),
        ):
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["referrer-policy"] == "no-referrer"
            assert r.headers["x-frame-options"] == "DENY"
            assert "strict-transport-security" not in r.headers  # public URL is http
            assert "content-security-policy" not in r.headers  # JSON
        html = await gw.get("/api/up/html")
        csp = html.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "script-src" not in csp
        docs = await gw.get("/docs")
        assert "cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    https = settings(db_url, upstream[0], public_base_url="https://hub.example.gov.cn")
    async with gateway_clients(https) as (_app, clients):
        r = await clients().get("/api/up/echo")
        assert r.headers["strict-transport-security"].startswith("max-age=31536000")


async def test_forwarded_headers_from_a_client_are_replaced(
    db_url: str, upstream: tuple[str, UpstreamState]
) -> None:
    spoof = {"x-forwarded-for": "10.9.9.9", "x-real-ip": "10.9.9.9", "x-forwarded-host": "evil"}
    async with gateway_clients(settings(db_url, upstream[0])) as (_app, clients):
        seen = (await clients("203.0.113.7").get("/api/up/echo", headers=spoof)).json()
    assert seen["x-forwarded-for"] == "203.0.113.7"
    assert seen["x-forwarded-host"] == "gw.test"
    assert seen["x-real-ip"] is None


async def test_forwarded_for_from_a_trusted_proxy_is_extended(
    db_url: str, upstream: tuple[str, UpstreamState]
) -> None:
    s = settings(db_url, upstream[0], trusted_proxies="10.0.0.0/8")
    async with gateway_clients(s) as (_app, clients):
        seen = (
            await clients("10.0.0.2").get(
                "/api/up/echo", headers={"x-forwarded-for": "198.51.100.4"}
            )
        ).json()
    assert seen["x-forwarded-for"] == "198.51.100.4, 10.0.0.2"


@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE", "OPTIONS"])
async def test_a_body_on_a_bodyless_method_is_never_a_500(
    db_url: str, upstream: tuple[str, UpstreamState], method: str
) -> None:
    async with gateway_clients(settings(db_url, upstream[0])) as (_app, clients):
        r = await clients().request(
            method,
            "/api/up/echo",
            content=b'{"x": 1}',
            headers={"content-type": "application/json"},
        )
    assert r.status_code == 200, r.text
    if method in ("GET", "OPTIONS"):
        assert r.json()["length"] == 0  # ignored, not forwarded
    if method == "DELETE":
        assert r.json()["length"] == 8  # DELETE may carry a body: forwarded


async def test_get_with_a_body_over_a_real_socket(
    upstream: tuple[str, UpstreamState], pg: DatabaseFactory
) -> None:
    """The reported case: raw HTTP/1.1 with Content-Length on a GET, through uvicorn."""
    url = await pg.create("fd_edge_raw")
    migrate("gateway", url)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings(url, upstream[0])),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        await asyncio.sleep(0.05)

    def exchange() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"GET /api/up/echo HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                b"Content-Length: 8\r\nConnection: close\r\n\r\n" + b'{"x": 1}'
            )
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
        return raw

    try:
        raw = await asyncio.to_thread(exchange)
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), raw[:300]
        assert json.loads(body)["length"] == 0
    finally:
        server.should_exit = True
        thread.join(10)
