"""A real little upstream for the front-door tests (uvicorn in a thread on a free port)
and the gateway settings those tests share."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from gateway.app import create_app
from gateway.settings import GatewaySettings
from hub.broker import free_port
from tests.support.tokens import AUDIENCE, ISSUER, TestIssuer


@dataclass
class UpstreamState:
    calls: int = 0
    mode: str = "ok"  # ok | fail (500) | stall (sleeps past the gateway's timeout)
    delay: float = 0.0
    seen: list[dict[str, Any]] = field(default_factory=list)


def upstream_app(state: UpstreamState) -> Starlette:
    async def echo(request: Request) -> Response:
        state.calls += 1
        body = await request.body()
        if state.delay:
            await asyncio.sleep(state.delay)
        seen = {
            "method": request.method,
            "length": len(body),
            "call": state.calls,
            "x-forwarded-for": request.headers.get("x-forwarded-for"),
            "x-forwarded-host": request.headers.get("x-forwarded-host"),
            "x-real-ip": request.headers.get("x-real-ip"),
        }
        state.seen.append(seen)
        return JSONResponse(seen, status_code=201 if request.method == "POST" else 200)

    async def flaky(request: Request) -> Response:
        state.calls += 1
        if state.mode == "stall":
            await asyncio.sleep(5)
        if state.mode == "fail":
            return JSONResponse({"error": "boom"}, status_code=500)
        return JSONResponse({"ok": True, "call": state.calls})

    async def status(request: Request) -> Response:
        state.calls += 1
        return JSONResponse({"status": "set"}, status_code=int(request.path_params["code"]))

    async def slow(request: Request) -> Response:
        await asyncio.sleep(float(request.query_params.get("seconds", "1")))
        return JSONResponse({"slept": True})

    async def html(request: Request) -> Response:
        return HTMLResponse("<!doctype html><title>登录</title><p>hi</p>")

    methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]
    return Starlette(
        routes=[
            Route("/echo", echo, methods=methods),
            Route("/flaky", flaky, methods=methods),
            Route("/status/{code:int}", status, methods=methods),
            Route("/login/sms/send", echo, methods=["POST"]),
            Route("/slow", slow),
            Route("/html", html),
        ]
    )


@contextmanager
def run_upstream(state: UpstreamState | None = None) -> Iterator[tuple[str, UpstreamState]]:
    state = state or UpstreamState()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(upstream_app(state), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("upstream did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", state
    finally:
        server.should_exit = True
        thread.join(5)


def policy_settings(
    database_url: str, issuer: TestIssuer, upstreams: dict[str, str], **overrides: Any
) -> GatewaySettings:
    values: dict[str, Any] = {
        "service_name": "gateway",
        "environment": "test",
        "database_url": database_url,
        "kafka_enabled": False,
        "auth_jwks": issuer.jwks_json,
        "auth_issuer": ISSUER,
        "auth_audience": AUDIENCE,
        "log_json": False,
        "intake_poll_interval": 3600.0,
        "upstreams": upstreams,
    }
    values.update(overrides)
    return GatewaySettings(**values)


Clients = Callable[[str], httpx.AsyncClient]


@asynccontextmanager
async def gateway_clients(settings: GatewaySettings) -> AsyncIterator[tuple[FastAPI, Clients]]:
    """The gateway in-process (lifespan run); ``clients(ip)`` speaks to it from ``ip``."""
    app = create_app(settings)
    made: list[httpx.AsyncClient] = []

    def clients(ip: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 50000))
        client = httpx.AsyncClient(transport=transport, base_url="http://gw.test", timeout=30)
        made.append(client)
        return client

    async with app.router.lifespan_context(app):
        try:
            yield app, clients
        finally:
            for client in made:
                await client.aclose()


def create_upstream_app() -> Starlette:
    """Factory for ``uvicorn --factory`` (the throughput bench's trivial upstream)."""
    return upstream_app(UpstreamState())
